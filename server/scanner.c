#include "scanner.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static gboolean
is_dir (const char *path)
{
  struct stat st;

  return lstat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

static gboolean
is_regular (const char *path)
{
  struct stat st;

  return lstat (path, &st) == 0 && S_ISREG (st.st_mode);
}

typedef enum
{
  NOT_A_REPOSITORY,
  WORKING_TREE,
  BARE,
} RepoKind;

static RepoKind
repo_kind (const char *dir)
{
  g_autofree char *dotgit = g_build_filename (dir, ".git", NULL);
  g_autofree char *head = g_build_filename (dir, "HEAD", NULL);
  g_autofree char *objects = g_build_filename (dir, "objects", NULL);
  g_autofree char *refs = g_build_filename (dir, "refs", NULL);

  if (is_dir (dotgit) || is_regular (dotgit))
    return WORKING_TREE;
  if (is_regular (head) && is_dir (objects) && is_dir (refs))
    return BARE;
  return NOT_A_REPOSITORY;
}

static void
visit (const char *dir, guint depth, guint max_depth, gboolean nested, GPtrArray *found)
{
  RepoKind kind = repo_kind (dir);
  DIR *d;
  struct dirent *entry;

  if (kind != NOT_A_REPOSITORY)
    {
      g_ptr_array_add (found, g_strdup (dir));
      if (kind == BARE || !nested)
        return;
    }
  if (depth >= max_depth || (d = opendir (dir)) == NULL)
    return;
  while ((entry = readdir (d)) != NULL)
    {
      g_autofree char *child = NULL;

      /* Hidden directories hold tools' state (.git, .cache), not projects. */
      if (entry->d_name[0] == '.')
        continue;
      if (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN)
        continue;
      child = g_build_filename (dir, entry->d_name, NULL);
      if (is_dir (child)) /* lstat: a symbolic link is not followed */
        visit (child, depth + 1, max_depth, nested, found);
    }
  closedir (d);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GPtrArray *
nearby_scan (const char *const *roots, guint max_depth, gboolean nested, GPtrArray *problems)
{
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);

  for (const char *const *root = roots; *root != NULL; root++)
    {
      g_autofree char *absolute = g_canonicalize_filename (*root, NULL);
      struct stat st;

      if (stat (absolute, &st) != 0 || !S_ISDIR (st.st_mode))
        {
          if (problems != NULL)
            g_ptr_array_add (problems, g_strdup_printf ("%s: not a directory", *root));
          continue;
        }
      visit (absolute, 0, max_depth, nested, found);
    }
  g_ptr_array_sort (found, compare_strings);
  return found;
}

/* One root: the walk from @root down to @dir, stopping where visit() would. */
static NearbyScanVerdict
explain_from (const char *root, guint max_depth, gboolean nested, const char *dir, char **where,
              guint *depth)
{
  g_auto (GStrv) parts = NULL;
  g_autofree char *current = g_strdup (root);
  gsize prefix = strlen (root);
  guint n = 0;

  /* "/" as a root: every path is below it */
  if (prefix == 1)
    prefix = 0;
  parts = g_strsplit (dir + prefix + (dir[prefix] == '/' ? 1 : 0), "/", -1);
  for (char **part = parts; *part != NULL && **part != '\0'; part++)
    {
      RepoKind kind = repo_kind (current);
      char *next;

      if (kind == BARE || (kind == WORKING_TREE && !nested))
        {
          *where = g_steal_pointer (&current);
          return NEARBY_SCAN_NESTED;
        }
      if (n >= max_depth)
        {
          *where = g_strdup (root);
          *depth = g_strv_length (parts);
          return NEARBY_SCAN_TOO_DEEP;
        }
      n++;
      next = g_build_filename (current, *part, NULL);
      g_free (current);
      current = next;
      if ((*part)[0] == '.')
        {
          *where = g_steal_pointer (&current);
          return NEARBY_SCAN_HIDDEN;
        }
    }
  return repo_kind (dir) != NOT_A_REPOSITORY ? NEARBY_SCAN_FOUND : NEARBY_SCAN_NOT_A_REPOSITORY;
}

NearbyScanVerdict
nearby_scan_explain (const char *const *roots, guint max_depth, gboolean nested, const char *dir,
                     char **where, guint *depth)
{
  const char *nearest = NULL;

  *where = NULL;
  *depth = 0;
  for (const char *const *root = roots; *root != NULL; root++)
    {
      gsize len = strlen (*root);

      if (strcmp (*root, dir) != 0 && strcmp (*root, "/") != 0
          && !(g_str_has_prefix (dir, *root) && dir[len] == '/'))
        continue;
      if (explain_from (*root, max_depth, nested, dir, where, depth) == NEARBY_SCAN_FOUND)
        return NEARBY_SCAN_FOUND;
      g_clear_pointer (where, g_free);
      if (nearest == NULL || strlen (nearest) < len)
        nearest = *root;
    }
  if (nearest == NULL)
    return NEARBY_SCAN_OUTSIDE;
  return explain_from (nearest, max_depth, nested, dir, where, depth);
}
