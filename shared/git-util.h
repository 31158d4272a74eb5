/* git-nearby: libgit2 glue — autoptr cleanups and the one GError bridge. */
#pragma once

#include <git2.h>
#include <glib.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_repository, git_repository_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_reference, git_reference_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_config, git_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_config_iterator, git_config_iterator_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_commit, git_commit_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_object, git_object_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_revwalk, git_revwalk_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_odb, git_odb_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_odb_object, git_odb_object_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_tree, git_tree_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (git_diff, git_diff_free)

/* Makes sure libgit2 is initialised once per process. */
void nearby_git_init (void);

/* Sets @error from libgit2's last error, prefixed with @what.
 * Always returns FALSE so callers can `return nearby_git_error (...)`. */
gboolean nearby_git_error (GError **error, int git_code, const char *what, ...)
    G_GNUC_PRINTF (3, 4);

/* Opens the repository at exactly @path (no searching upwards). */
git_repository *nearby_git_open (const char *path, GError **error);

/* The repository's common git directory (shared by its linked worktrees),
 * without the trailing '/' libgit2 gives it. */
char *nearby_git_common_dir (git_repository *repo);

/* The directory name people know the repository by: "myproj" for
 * /src/myproj/.git, /src/myproj.git or a linked worktree of /src/myproj. */
char *nearby_git_repo_name (git_repository *repo);

/* Fills @oid from a 40-digit lower-case hex string; FALSE for anything else. */
gboolean nearby_oid_from_hex (git_oid *oid, const char *hex, gsize len);

/* @text, a field of @commit (its summary, an author's name), as valid
 * UTF-8: converted from the commit's "encoding" header when it names
 * another one (ISO-8859-1, say), else invalid bytes become U+FFFD. Never
 * NULL. Text from a repository goes into JSON and HTML only so. */
char *nearby_commit_text_utf8 (git_commit *commit, const char *text);

guint nearby_oid_hash (gconstpointer oid);
gboolean nearby_oid_equal (gconstpointer a, gconstpointer b);

G_END_DECLS
