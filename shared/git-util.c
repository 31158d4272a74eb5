#include "git-util.h"

#include <stdarg.h>
#include <string.h>

#include "nearby-error.h"

void
nearby_git_init (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      git_libgit2_init ();
      g_once_init_leave (&once, 1);
    }
}

gboolean
nearby_git_error (GError **error, int git_code, const char *what, ...)
{
  const git_error *last = git_error_last ();
  g_autofree char *prefix = NULL;
  va_list args;

  va_start (args, what);
  prefix = g_strdup_vprintf (what, args);
  va_end (args);

  g_set_error (error, NEARBY_ERROR,
               git_code == GIT_ENOTFOUND ? NEARBY_ERROR_NOT_FOUND : NEARBY_ERROR_GIT, "%s: %s",
               prefix,
               last != NULL && last->message != NULL ? last->message : "unknown libgit2 error");
  return FALSE;
}

git_repository *
nearby_git_open (const char *path, GError **error)
{
  git_repository *repo = NULL;
  int rc;

  nearby_git_init ();
  rc = git_repository_open_ext (&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
  if (rc < 0)
    {
      nearby_git_error (error, rc, "cannot open repository %s", path);
      return NULL;
    }
  return repo;
}

char *
nearby_git_common_dir (git_repository *repo)
{
  char *dir = g_strdup (git_repository_commondir (repo));
  gsize len = strlen (dir);

  while (len > 1 && dir[len - 1] == '/')
    dir[--len] = '\0';
  return dir;
}

char *
nearby_git_repo_name (git_repository *repo)
{
  g_autofree char *common = nearby_git_common_dir (repo);
  g_autofree char *base = NULL;

  /* "/src/myproj/.git" is known as "myproj" */
  if (g_str_has_suffix (common, "/.git"))
    common[strlen (common) - 5] = '\0';
  base = g_path_get_basename (common);
  if (g_str_has_suffix (base, ".git") && strlen (base) > 4)
    base[strlen (base) - 4] = '\0';
  return g_steal_pointer (&base);
}

gboolean
nearby_oid_from_hex (git_oid *oid, const char *hex, gsize len)
{
  if (len != GIT_OID_HEXSZ)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
      return FALSE;
  return git_oid_fromstrn (oid, hex, len) == 0;
}

guint
nearby_oid_hash (gconstpointer oid)
{
  guint h;

  memcpy (&h, ((const git_oid *) oid)->id, sizeof h);
  return h;
}

gboolean
nearby_oid_equal (gconstpointer a, gconstpointer b)
{
  return git_oid_equal (a, b);
}

char *
nearby_commit_text_utf8 (git_commit *commit, const char *text)
{
  const char *encoding = git_commit_message_encoding (commit);

  if (text == NULL)
    return g_strdup ("");
  if (encoding != NULL && g_ascii_strcasecmp (encoding, "UTF-8") != 0
      && g_ascii_strcasecmp (encoding, "UTF8") != 0)
    {
      char *converted = g_convert (text, -1, "UTF-8", encoding, NULL, NULL, NULL);

      if (converted != NULL && g_utf8_validate (converted, -1, NULL))
        return converted;
      g_free (converted);
    }
  return g_utf8_make_valid (text, -1);
}
