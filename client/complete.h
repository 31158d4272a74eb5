/* git-nearby: the names offered to shell completion.
 *
 * Completion output is inserted into a command line that the user then
 * runs, and the names come from anyone on the LAN: a name the shell would
 * read as more than a word ("x;rm -rf ~", "$(...)", "a b") must never be
 * offered, nor one with a control or invisible character. What is offered
 * is each such safe name once, sorted, one per line; after "NAME@", the
 * NAME@HOST of each host that advertises NAME (a name on several hosts
 * needs one to be cloned).
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

/* What completes @prefix (NULL or "": anything) among what was seen: @seen
 * holds @n lines (NULL ones are skipped) "NAME\tHOST" or "NAME", one per
 * service. Each safe NAME that starts with @prefix, and, when @prefix
 * starts with "NAME@", each "NAME@HOST" (of a safe HOST) that starts with
 * it; each once, sorted by bytes. */
GStrv nearby_complete_offers (const char *const *seen, gsize n, const char *prefix);

/* $XDG_RUNTIME_DIR/git-nearby/names (GLib falls back to the cache
 * directory when it is not set). */
char *nearby_complete_cache_path (void);

/* The lines ("NAME\tHOST" or "NAME") in the cache at @path if it was
 * written less than @max_age_s seconds ago (and not in the future) by this
 * user and nobody else may write it; NULL otherwise. Only lines whose name
 * and host are safe words are returned (a host that is not becomes no
 * host): the file is only a cache. */
GStrv nearby_complete_cache_read (const char *path, guint max_age_s);

/* Replaces the cache at @path with the lines of @seen (as above; lines
 * whose name is not a safe word are left out, hosts that are not too),
 * creating its directory 0700, atomically and with mode 0600. */
gboolean nearby_complete_cache_write (const char *path, const char *const *seen, GError **error);

G_END_DECLS
