/* git-nearby: "this project" — the branches advertised nearby that share a
 * root commit with the current repository's HEAD (TXT repo=). */
#pragma once

#include <gio/gio.h>

#include "browser.h"

G_BEGIN_DECLS

/* Starts `git rev-list --max-parents=0 HEAD` in the current directory, to
 * be read after a browse, so that a long history costs no wait of its own.
 * NULL if it cannot be started. */
GSubprocess *nearby_project_roots_start (void);

/* The root commits it printed, as a set; NULL outside a repository or one
 * with no commits: then there is no "this project". */
GHashTable *nearby_project_roots_finish (GSubprocess *child);

/* Whether @s is a branch of the project whose roots are @roots. */
gboolean nearby_project_has (GHashTable *roots, const NearbyService *s);

/* @text (an owner's name: anyone may announce anything) as one ref name
 * component: ASCII letters, digits, '.', '_' and '-' kept, runs of
 * anything else one '-', no "..", no '.' or '-' at either end, no ".lock"
 * at the end; "" when nothing is left. */
char *nearby_project_ref_component (const char *text);

G_END_DECLS
