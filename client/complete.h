/* git-nearby: the names offered to shell completion.
 *
 * Completion output is inserted into a command line that the user then
 * runs, and the names come from anyone on the LAN: a name the shell would
 * read as more than a word ("x;rm -rf ~", "$(...)", "a b") must never be
 * offered, nor one with a control or invisible character. What is offered
 * is each such safe name once, sorted, one per line.
 *
 * TAB must not wait for a browse each time: what a short browse found is
 * kept for a few seconds in a cache file (a private directory under
 * $XDG_RUNTIME_DIR, mode 0600, replaced atomically). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How long the cache answers for the network, in seconds. */
#define NEARBY_COMPLETE_CACHE_SECONDS 5

/* How long a browse for completion may take when the cache is stale. */
#define NEARBY_COMPLETE_BROWSE_TIMEOUT_MS 500

/* Whether @word may be inserted into a shell command line as it is and
 * stay one plain word: a valid name (nearby_name_validate()) without
 * white space, shell metacharacters, quotes, globs or a leading '-'. */
gboolean nearby_complete_word_is_safe (const char *word);

/* The safe words of @words (@n of them; NULL entries are skipped) that
 * start with @prefix (NULL or "": all), each once, sorted by bytes. */
GStrv nearby_complete_filter (const char *const *words, gsize n, const char *prefix);

/* $XDG_RUNTIME_DIR/git-nearby/names (GLib falls back to the cache
 * directory when it is not set). */
char *nearby_complete_cache_path (void);

/* The names in the cache at @path if it was written less than @max_age_s
 * seconds ago (and not in the future) by this user and nobody else may
 * write it; NULL otherwise. Its lines pass through
 * nearby_complete_filter() again: the file is only a cache. */
GStrv nearby_complete_cache_read (const char *path, guint max_age_s);

/* Replaces the cache at @path with @names (creating its directory 0700),
 * atomically and with mode 0600. */
gboolean nearby_complete_cache_write (const char *path, const char *const *names, GError **error);

G_END_DECLS
