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

/* Why nearby_scan() would or would not find the repository directory @dir
 * (a working tree's top or a bare repository; canonical, as are @roots). */
typedef enum
{
  NEARBY_SCAN_FOUND,
  NEARBY_SCAN_OUTSIDE,  /* under none of the roots */
  NEARBY_SCAN_TOO_DEEP, /* *@where: its root; *@depth: how far down it is */
  NEARBY_SCAN_NESTED,   /* *@where: the repository whose tree holds it */
  NEARBY_SCAN_HIDDEN,   /* *@where: the hidden directory on the way */
  NEARBY_SCAN_NOT_A_REPOSITORY,
} NearbyScanVerdict;

/* The same rules as nearby_scan(), walked along @dir's path only. Of several
 * roots holding @dir, the nearest explains it. */
NearbyScanVerdict nearby_scan_explain (const char *const *roots, guint max_depth, gboolean nested,
                                       const char *dir, char **where, guint *depth);

G_END_DECLS
