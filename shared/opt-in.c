#include "opt-in.h"

#include <string.h>

#include "git-util.h"
#include "name.h"
#include "nearby-error.h"

#define KEY_PREFIX "branch."
#define KEY_SUFFIX ".nearby"

void
nearby_opt_in_free (NearbyOptIn *opt_in)
{
  if (opt_in == NULL)
    return;
  g_free (opt_in->branch);
  g_free (opt_in->name);
  g_free (opt_in->problem);
  g_free (opt_in);
}

char *
nearby_opt_in_key (const char *branch)
{
  return g_strconcat (KEY_PREFIX, branch, KEY_SUFFIX, NULL);
}

char *
nearby_opt_in_branch_from_key (const char *key)
{
  gsize len = strlen (key);
  gsize fixed = strlen (KEY_PREFIX) + strlen (KEY_SUFFIX);

  if (len <= fixed || !g_str_has_prefix (key, KEY_PREFIX) || !g_str_has_suffix (key, KEY_SUFFIX))
    return NULL;
  return g_strndup (key + strlen (KEY_PREFIX), len - fixed);
}

gboolean
nearby_opt_in_name_is_boolean (const char *name)
{
  int b;

  nearby_git_init ();
  return git_config_parse_bool (&b, name) == 0;
}

gboolean
nearby_opt_in_parse_value (const char *value, char **name)
{
  int b;

  nearby_git_init ();
  *name = NULL;
  /* A bare `nearby` key (no '=') has no value and means true, as in git. */
  if (value == NULL)
    return TRUE;
  if (git_config_parse_bool (&b, value) == 0)
    return b != 0;
  *name = g_strdup (value);
  return TRUE;
}

git_config *
nearby_opt_in_local_config (git_repository *repo, GError **error)
{
  g_autoptr (git_config) all = NULL;
  git_config *local = NULL;
  int rc;

  if ((rc = git_repository_config (&all, repo)) < 0)
    {
      nearby_git_error (error, rc, "cannot read the repository's config");
      return NULL;
    }
  if ((rc = git_config_open_level (&local, all, GIT_CONFIG_LEVEL_LOCAL)) < 0)
    {
      nearby_git_error (error, rc, "cannot open the repository's own config");
      return NULL;
    }
  return local;
}

static int
compare_by_branch (gconstpointer a, gconstpointer b)
{
  const NearbyOptIn *x = *(NearbyOptIn *const *) a;
  const NearbyOptIn *y = *(NearbyOptIn *const *) b;

  return strcmp (x->branch, y->branch);
}

GPtrArray *
nearby_opt_ins_read (git_repository *repo, GError **error)
{
  g_autoptr (GPtrArray) opt_ins
      = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_opt_in_free);
  g_autoptr (git_config) snapshot = NULL;
  g_autoptr (git_config) local = NULL;
  g_autoptr (git_config_iterator) iter = NULL;
  g_autoptr (GError) config_error = NULL;
  g_autofree char *repo_name = nearby_git_repo_name (repo);
  git_config_entry *entry;
  int rc;

  /* Only the repository's own config counts: an opt-in in ~/.gitconfig would
   * silently publish every repository's branch of that name. */
  local = nearby_opt_in_local_config (repo, &config_error);
  if (local == NULL)
    {
      /* A repository without a config file of its own opts nothing in. */
      if (g_error_matches (config_error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND))
        return g_steal_pointer (&opt_ins);
      g_propagate_error (error, g_steal_pointer (&config_error));
      return NULL;
    }
  if ((rc = git_config_snapshot (&snapshot, local)) < 0
      /* Not the glob iterator: libgit2 1.5 leaks PCRE2 match data for every
       * entry that does not match. */
      || (rc = git_config_iterator_new (&iter, snapshot)) < 0)
    {
      nearby_git_error (error, rc, "cannot read the config of %s", git_repository_commondir (repo));
      return NULL;
    }

  while ((rc = git_config_next (&entry, iter)) == 0)
    {
      g_autoptr (NearbyOptIn) opt_in = g_new0 (NearbyOptIn, 1);
      g_autofree char *explicit_name = NULL;
      g_autoptr (GError) local_error = NULL;
      guint i;

      opt_in->branch = nearby_opt_in_branch_from_key (entry->name);
      if (opt_in->branch == NULL)
        continue;

      /* The last value of a multi-valued key wins, as in git. */
      for (i = 0; i < opt_ins->len; i++)
        if (strcmp (((NearbyOptIn *) opt_ins->pdata[i])->branch, opt_in->branch) == 0)
          break;
      if (i < opt_ins->len)
        g_ptr_array_remove_index (opt_ins, i);

      if (!nearby_opt_in_parse_value (entry->value, &explicit_name))
        continue;

      opt_in->is_default = explicit_name == NULL;
      if (explicit_name != NULL)
        {
          if (nearby_name_validate (explicit_name, &local_error))
            opt_in->name = g_steal_pointer (&explicit_name);
        }
      else
        opt_in->name = nearby_name_default (repo_name, opt_in->branch, &local_error);
      if (local_error != NULL)
        opt_in->problem = g_strdup (local_error->message);
      g_ptr_array_add (opt_ins, g_steal_pointer (&opt_in));
    }
  if (rc != GIT_ITEROVER)
    {
      nearby_git_error (error, rc, "cannot read the config of %s", git_repository_commondir (repo));
      return NULL;
    }

  g_ptr_array_sort (opt_ins, compare_by_branch);
  return g_steal_pointer (&opt_ins);
}
