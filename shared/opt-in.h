/* git-nearby: the opt-in, `branch.<branch>.nearby` in a repository's own config. */
#pragma once

#include <git2.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *branch;        /* "fix-login" */
  char *name;          /* the advertised name, default resolved; NULL if @problem */
  gboolean is_default; /* the config says `true`, not a name */
  char *problem;       /* why this opt-in cannot be used, or NULL */
} NearbyOptIn;

void nearby_opt_in_free (NearbyOptIn *opt_in);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyOptIn, nearby_opt_in_free)

/* "branch.<branch>.nearby" */
char *nearby_opt_in_key (const char *branch);

/* The branch of an opt-in key (as libgit2 spells it: section and variable
 * lower-cased), or NULL when @key is not one. */
char *nearby_opt_in_branch_from_key (const char *key);

/* A config value opts in if it is a git boolean that is true (the default
 * name) or any non-boolean string (the name itself). Sets *@name to NULL for
 * the default. Returns FALSE for values that opt out. */
gboolean nearby_opt_in_parse_value (const char *value, char **name);

/* TRUE when git would read @name as a boolean, so it cannot be stored as a name. */
gboolean nearby_opt_in_name_is_boolean (const char *name);

/* Every opt-in in the repository's own (local) config, sorted by branch.
 * Opt-ins whose name is unusable are returned with @problem set. */
GPtrArray *nearby_opt_ins_read (git_repository *repo, GError **error);

/* The repository's local config, for writing. */
git_config *nearby_opt_in_local_config (git_repository *repo, GError **error);

G_END_DECLS
