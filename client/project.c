#include "project.h"

GSubprocess *
nearby_project_roots_start (void)
{
  const char *argv[] = { "git", "rev-list", "--max-parents=0", "HEAD", NULL };

  return g_subprocess_newv (
      argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL);
}

GHashTable *
nearby_project_roots_finish (GSubprocess *child)
{
  g_autofree char *out = NULL;
  g_auto (GStrv) lines = NULL;
  GHashTable *roots;

  if (child == NULL || !g_subprocess_communicate_utf8 (child, NULL, NULL, &out, NULL, NULL)
      || !g_subprocess_get_if_exited (child) || g_subprocess_get_exit_status (child) != 0)
    return NULL;
  roots = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  lines = g_strsplit (out, "\n", -1);
  for (char **line = lines; *line != NULL; line++)
    if (**line != '\0')
      g_hash_table_add (roots, g_strdup (*line));
  if (g_hash_table_size (roots) == 0)
    g_clear_pointer (&roots, g_hash_table_unref);
  return roots;
}

gboolean
nearby_project_has (GHashTable *roots, const NearbyService *s)
{
  return roots != NULL && s->repo != NULL && g_hash_table_contains (roots, s->repo);
}

/* @text as one ref name component: ASCII letters, digits, '.', '_' and '-'
 * kept, runs of anything else one '-', no '.' or '-' at either end. The
 * owner is text anyone may announce: it must not steer where a ref goes. */
char *
nearby_project_ref_component (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text != NULL ? text : ""; *p != '\0'; p++)
    {
      char c = *p;

      if (g_ascii_isalnum (c) || c == '_')
        g_string_append_c (out, c);
      else if (c == '.')
        {
          /* Never "..", never a leading '.' */
          if (out->len > 0 && out->str[out->len - 1] != '.')
            g_string_append_c (out, c);
        }
      else if (out->len > 0 && out->str[out->len - 1] != '-')
        g_string_append_c (out, '-');
    }
  while (out->len > 0 && (out->str[out->len - 1] == '-' || out->str[out->len - 1] == '.'))
    g_string_truncate (out, out->len - 1);
  /* git takes no component ending in ".lock". */
  if (g_str_has_suffix (out->str, ".lock"))
    out->str[out->len - 5] = '-';
  return g_string_free (out, FALSE);
}
