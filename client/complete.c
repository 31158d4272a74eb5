/* git-nearby: the names offered to shell completion (see complete.h). */
#include "complete.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "name.h"

/* What bash reads as more than a plain character in a word: blanks and
 * metacharacters, quotes and escapes, expansions ($ ` ~ !, and { for
 * braces), globs, comments, and '=' which completion splits words at
 * (COMP_WORDBREAKS; ':' is split at too, but completion handles it). */
#define SHELL_SPECIAL " \t\n!\"#$&'()*;<=>?[\\]^`{|}~"

gboolean
nearby_complete_word_is_safe (const char *word)
{
  if (word == NULL || !nearby_name_validate (word, NULL) || word[0] == '-')
    return FALSE;
  for (const char *p = word; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      /* U+00A0 and the other Unicode spaces look like a word break. */
      if ((c < 0x80 && strchr (SHELL_SPECIAL, (char) c) != NULL) || g_unichar_isspace (c))
        return FALSE;
    }
  return TRUE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GStrv
nearby_complete_filter (const char *const *words, gsize n, const char *prefix)
{
  g_autoptr (GPtrArray) kept = g_ptr_array_new ();
  GPtrArray *out = g_ptr_array_new ();

  for (gsize i = 0; i < n; i++)
    if (words[i] != NULL && (prefix == NULL || g_str_has_prefix (words[i], prefix))
        && nearby_complete_word_is_safe (words[i]))
      g_ptr_array_add (kept, (gpointer) words[i]);
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

GStrv
nearby_complete_cache_read (const char *path, guint max_age_s)
{
  GStatBuf st;
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
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
  return nearby_complete_filter ((const char *const *) lines, g_strv_length (lines), NULL);
}

gboolean
nearby_complete_cache_write (const char *path, const char *const *names, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (GString) contents = g_string_new (NULL);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  for (gsize i = 0; names[i] != NULL; i++)
    g_string_append_printf (contents, "%s\n", names[i]);
  /* A reader sees the old list or the new one, never half of one. */
  return g_file_set_contents_full (path, contents->str, contents->len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}
