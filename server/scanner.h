/* git-nearby: finding repositories under the served directories. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NEARBY_SCAN_DEFAULT_DEPTH 3

/* Working trees (a .git directory or file) and bare repositories under each
 * root, at most @max_depth directories down. Symbolic links and hidden
 * directories are not followed, nor is a repository's own tree unless
 * @nested. Sorted, so that the order of discovery is stable. Roots that are
 * not directories are reported in @problems. */
GPtrArray *nearby_scan (const char *const *roots, guint max_depth, gboolean nested,
                        GPtrArray *problems);

G_END_DECLS
