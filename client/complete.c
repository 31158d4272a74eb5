/* git-nearby: the names offered to shell completion (see complete.h). */
#include "complete.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "name.h"
#include "untrusted.h"

/* What bash reads as more than a plain character in a word: blanks and
 * metacharacters, quotes and escapes, expansions ($ ` ~ !, and { for
 * braces), globs, comments, and '=' which completion splits words at
 * (COMP_WORDBREAKS; ':' is split at too, but completion handles it). */
#define SHELL_SPECIAL " \t\n!\"#$&'()*;<=>?[\\]^`{|}~"

/* Whether @word is one plain word on a command line, and shows as what it
 * is: no control or invisible character, no white space, nothing the
 * shell expands or splits at, not an option. */
static gboolean
shell_safe (const char *word)
{
  if (word == NULL || *word == '\0' || *word == '-' || !g_utf8_validate (word, -1, NULL))
    return FALSE;
  for (const char *p = word; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || nearby_unichar_is_invisible (c))
        return FALSE;
      /* U+00A0 and the other Unicode spaces look like a word break. */
      if ((c < 0x80 && strchr (SHELL_SPECIAL, (char) c) != NULL) || g_unichar_isspace (c))
        return FALSE;
    }
  return TRUE;
}

gboolean
nearby_complete_word_is_safe (const char *word)
{
  return word != NULL && nearby_name_validate (word, NULL) && shell_safe (word);
}

/* Splits a seen line into its name and host (NULL: none, or not safe);
 * FALSE when the name is not safe. */
static gboolean
parse_seen (const char *line, char **name, char **host)
{
  const char *tab = strchr (line, '\t');

  *name = tab != NULL ? g_strndup (line, tab - line) : g_strdup (line);
  *host = tab != NULL && shell_safe (tab + 1) ? g_strdup (tab + 1) : NULL;
  if (nearby_complete_word_is_safe (*name))
    return TRUE;
  g_clear_pointer (name, g_free);
  g_clear_pointer (host, g_free);
  return FALSE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GStrv
nearby_complete_offers (const char *const *seen, gsize n, const char *prefix)
{
  g_autoptr (GPtrArray) kept = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *out = g_ptr_array_new ();

  if (prefix == NULL)
    prefix = "";
  for (gsize i = 0; i < n; i++)
    {
      g_autofree char *name = NULL;
      g_autofree char *host = NULL;

      if (seen[i] == NULL || !parse_seen (seen[i], &name, &host))
        continue;
      if (g_str_has_prefix (name, prefix))
        g_ptr_array_add (kept, g_strdup (name));
      /* NAME@HOST only once NAME@ is typed: the plain list stays one
       * word per name. */
      if (host != NULL && g_str_has_prefix (prefix, name) && prefix[strlen (name)] == '@')
        {
          g_autofree char *at = g_strconcat (name, "@", host, NULL);

          if (g_str_has_prefix (at, prefix))
            g_ptr_array_add (kept, g_steal_pointer (&at));
        }
    }
  g_ptr_array_sort (kept, compare_strings);
  /* A name advertised by several hosts is one word to type. */
  for (guint i = 0; i < kept->len; i++)
    if (i == 0 || strcmp (kept->pdata[i], kept->pdata[i - 1]) != 0)
      g_ptr_array_add (out, g_strdup (kept->pdata[i]));
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}

char *
nearby_complete_cache_path (void)
{
  return g_build_filename (g_get_user_runtime_dir (), "git-nearby", "names", NULL);
}

/* @seen's lines that parse, with only their safe parts. */
static GPtrArray *
clean_lines (const char *const *seen, gsize n)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);

  for (gsize i = 0; i < n; i++)
    {
      g_autofree char *name = NULL;
      g_autofree char *host = NULL;

      if (seen[i] != NULL && parse_seen (seen[i], &name, &host))
        g_ptr_array_add (lines, host != NULL ? g_strconcat (name, "\t", host, NULL)
                                             : g_steal_pointer (&name));
    }
  return lines;
}

GStrv
nearby_complete_cache_read (const char *path, guint max_age_s)
{
  GStatBuf st;
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  GPtrArray *clean;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  /* Someone else's file, or one others may write, answers nothing. */
  if (g_lstat (path, &st) != 0 || !S_ISREG (st.st_mode) || st.st_uid != getuid ()
      || (st.st_mode & 022) != 0)
    return NULL;
  if (st.st_mtime > now || now - st.st_mtime >= (gint64) max_age_s)
    return NULL;
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  lines = g_strsplit (contents, "\n", -1);
  clean = clean_lines ((const char *const *) lines, g_strv_length (lines));
  g_ptr_array_set_free_func (clean, NULL);
  g_ptr_array_add (clean, NULL);
  return (GStrv) g_ptr_array_free (clean, FALSE);
}

gboolean
nearby_complete_cache_write (const char *path, const char *const *seen, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (GString) contents = g_string_new (NULL);
  g_autoptr (GPtrArray) lines = clean_lines (seen, g_strv_length ((GStrv) seen));

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  for (guint i = 0; i < lines->len; i++)
    g_string_append_printf (contents, "%s\n", (const char *) lines->pdata[i]);
  /* A reader sees the old list or the new one, never half of one. */
  return g_file_set_contents_full (path, contents->str, contents->len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}
