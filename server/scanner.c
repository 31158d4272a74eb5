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
