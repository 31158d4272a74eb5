#include "reach.h"

#include "git-util.h"

struct _NearbyReach
{
  gatomicrefcount ref_count;
  git_oid tip;
  GHashTable *commits; /* git_oid* set, owned by @oids */
  GArray *oids;
};

NearbyReach *
nearby_reach_new (git_repository *repo, const git_oid *tip, GError **error)
{
  g_autoptr (git_revwalk) walk = NULL;
  NearbyReach *reach;
  git_oid oid;
  int rc;

  if ((rc = git_revwalk_new (&walk, repo)) < 0 || (rc = git_revwalk_push (walk, tip)) < 0)
    {
      nearby_git_error (error, rc, "cannot walk the history of %s", git_oid_tostr_s (tip));
      return NULL;
    }

  reach = g_new0 (NearbyReach, 1);
  g_atomic_ref_count_init (&reach->ref_count);
  git_oid_cpy (&reach->tip, tip);
  reach->oids = g_array_new (FALSE, FALSE, sizeof (git_oid));
  while ((rc = git_revwalk_next (&oid, walk)) == 0)
    g_array_append_val (reach->oids, oid);
  if (rc != GIT_ITEROVER)
    {
      nearby_reach_unref (reach);
      nearby_git_error (error, rc, "cannot walk the history of %s", git_oid_tostr_s (tip));
      return NULL;
    }

  /* The array no longer grows, so its elements can be the keys. */
  reach->commits = g_hash_table_new (nearby_oid_hash, nearby_oid_equal);
  for (guint i = 0; i < reach->oids->len; i++)
    g_hash_table_add (reach->commits, &g_array_index (reach->oids, git_oid, i));
  return reach;
}

NearbyReach *
nearby_reach_ref (NearbyReach *reach)
{
  g_atomic_ref_count_inc (&reach->ref_count);
  return reach;
}

void
nearby_reach_unref (NearbyReach *reach)
{
  if (reach == NULL || !g_atomic_ref_count_dec (&reach->ref_count))
    return;
  g_clear_pointer (&reach->commits, g_hash_table_unref);
  g_array_unref (reach->oids);
  g_free (reach);
}

const git_oid *
nearby_reach_tip (NearbyReach *reach)
{
  return &reach->tip;
}

gboolean
nearby_reach_contains (NearbyReach *reach, const git_oid *oid)
{
  return g_hash_table_contains (reach->commits, oid);
}

guint
nearby_reach_size (NearbyReach *reach)
{
  return reach->oids->len;
}
