#include "shallow.h"

#include "git-util.h"
#include "nearby-error.h"

gboolean
nearby_deepen_requested (const NearbyDeepen *deepen)
{
  return deepen->depth > 0 || deepen->since != 0 || deepen->exclude;
}

/* A set of the ids in @oids (pointing into it): membership tests stay
 * linear in all, however many shallow lines a request sends. */
static GHashTable *
oid_set (GArray *oids)
{
  GHashTable *set = g_hash_table_new (nearby_oid_hash, nearby_oid_equal);

  for (guint i = 0; i < oids->len; i++)
    g_hash_table_add (set, &g_array_index (oids, git_oid, i));
  return set;
}

/* Breadth first from @starts, so each commit gets its shortest distance (the
 * start commits are at distance 1); commits at @depth with parents are the
 * new boundary, the ones above it are complete. */
static gboolean
walk_depth (git_repository *repo, NearbyReach *reach, GArray *starts, int depth,
            GHashTable *complete, GArray *boundary, GError **error)
{
  g_autoptr (GHashTable) seen
      = g_hash_table_new_full (nearby_oid_hash, nearby_oid_equal, g_free, NULL);
  g_autoptr (GQueue) queue = g_queue_new ();
  g_autoptr (GArray) parents = g_array_new (FALSE, FALSE, sizeof (git_oid));
  int distance = 1;

  for (guint i = 0; i < starts->len; i++)
    {
      const git_oid *start = &g_array_index (starts, git_oid, i);
      git_oid *oid;

      /* Not g_hash_table_add() alone: for a repeated start it frees the
       * key already queued. */
      if (g_hash_table_contains (seen, start))
        continue;
      oid = g_memdup2 (start, sizeof (git_oid));
      g_hash_table_add (seen, oid);
      g_queue_push_tail (queue, oid);
    }
  g_queue_push_tail (queue, NULL); /* marks the end of one distance */

  while (!g_queue_is_empty (queue))
    {
      git_oid *oid = g_queue_pop_head (queue);
      g_autoptr (git_commit) commit = NULL;
      unsigned int n_parents;
      int rc;

      if (oid == NULL)
        {
          if (g_queue_is_empty (queue))
            break;
          distance++;
          g_queue_push_tail (queue, NULL);
          continue;
        }
      g_array_set_size (parents, 0);
      if (reach == NULL || !nearby_reach_parents (reach, oid, parents))
        {
          if ((rc = git_commit_lookup (&commit, repo, oid)) < 0)
            return nearby_git_error (error, rc, "cannot read commit %s", git_oid_tostr_s (oid));
          for (unsigned int p = 0; p < git_commit_parentcount (commit); p++)
            g_array_append_val (parents, *git_commit_parent_id (commit, p));
        }
      n_parents = parents->len;
      if (distance >= depth)
        {
          if (n_parents > 0)
            g_array_append_val (boundary, *oid);
          else
            g_hash_table_add (complete, g_memdup2 (oid, sizeof (git_oid)));
          continue;
        }
      g_hash_table_add (complete, g_memdup2 (oid, sizeof (git_oid)));
      for (unsigned int p = 0; p < n_parents; p++)
        {
          const git_oid *parent = &g_array_index (parents, git_oid, p);

          if (!g_hash_table_contains (seen, parent))
            {
              git_oid *copy = g_memdup2 (parent, sizeof (git_oid));

              g_hash_table_add (seen, copy);
              g_queue_push_tail (queue, copy);
            }
        }
    }
  return TRUE;
}

static gboolean
none_selected (GError **error)
{
  g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                       "no commits selected for shallow requests");
  return FALSE;
}

/* The parents and commit time of @oid: from the reach set's graph when it
 * has them (no commit is read on the main loop), else from the repository. */
static gboolean
commit_info (git_repository *repo, NearbyReach *reach, const git_oid *oid, GArray *parents,
             gint64 *time, GError **error)
{
  g_autoptr (git_commit) commit = NULL;
  int rc;

  g_array_set_size (parents, 0);
  if (reach != NULL && nearby_reach_time (reach, oid, time)
      && nearby_reach_parents (reach, oid, parents))
    return TRUE;
  if ((rc = git_commit_lookup (&commit, repo, oid)) < 0)
    return nearby_git_error (error, rc, "cannot read commit %s", git_oid_tostr_s (oid));
  *time = git_commit_time (commit);
  for (unsigned int p = 0; p < git_commit_parentcount (commit); p++)
    g_array_append_val (parents, *git_commit_parent_id (commit, p));
  return TRUE;
}

/* Commits from @wants that are newer than deepen-since and not excluded by
 * deepen-not; those with a parent left out are the boundary. */
static gboolean
walk_rev_list (git_repository *repo, NearbyReach *reach, const NearbyDeepen *deepen, GArray *wants,
               GHashTable *complete, GArray *boundary, GError **error)
{
  g_autoptr (GHashTable) included
      = g_hash_table_new_full (nearby_oid_hash, nearby_oid_equal, g_free, NULL);
  g_autoptr (GQueue) queue = g_queue_new ();
  g_autoptr (GArray) parents = g_array_new (FALSE, FALSE, sizeof (git_oid));
  g_autoptr (GArray) grandparents = g_array_new (FALSE, FALSE, sizeof (git_oid));
  GHashTableIter iter;
  gpointer key;

  /* deepen-not can only name the advertised branch, which excludes all of it. */
  if (deepen->exclude)
    return none_selected (error);

  for (guint i = 0; i < wants->len; i++)
    g_queue_push_tail (queue, g_memdup2 (&g_array_index (wants, git_oid, i), sizeof (git_oid)));

  while (!g_queue_is_empty (queue))
    {
      g_autofree git_oid *oid = g_queue_pop_head (queue);
      gboolean cut = FALSE;
      gint64 time;

      if (g_hash_table_contains (included, oid))
        continue;
      if (!commit_info (repo, reach, oid, parents, &time, error))
        return FALSE;
      if (deepen->since != 0 && time < deepen->since)
        continue;
      g_hash_table_add (included, g_memdup2 (oid, sizeof (git_oid)));

      for (guint p = 0; p < parents->len; p++)
        {
          const git_oid *parent = &g_array_index (parents, git_oid, p);
          gint64 parent_time;

          if (!commit_info (repo, reach, parent, grandparents, &parent_time, error))
            return FALSE;
          if (deepen->since != 0 && parent_time < deepen->since)
            cut = TRUE;
          else
            g_queue_push_tail (queue, g_memdup2 (parent, sizeof (git_oid)));
        }
      if (cut)
        g_array_append_val (boundary, *oid);
    }

  if (g_hash_table_size (included) == 0)
    return none_selected (error);

  g_autoptr (GHashTable) cut_set = oid_set (boundary);

  g_hash_table_iter_init (&iter, included);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (cut_set, key))
      g_hash_table_add (complete, g_memdup2 (key, sizeof (git_oid)));
  return TRUE;
}

gboolean
nearby_shallow_compute (git_repository *repo, NearbyReach *reach, const NearbyDeepen *deepen,
                        GArray *wants, GArray *shallows, GArray *new_shallows, GArray *unshallows,
                        GError **error)
{
  g_autoptr (GHashTable) complete
      = g_hash_table_new_full (nearby_oid_hash, nearby_oid_equal, g_free, NULL);
  g_autoptr (GArray) boundary = g_array_new (FALSE, FALSE, sizeof (git_oid));

  if (deepen->depth >= NEARBY_INFINITE_DEPTH)
    {
      g_autoptr (GHashTable) once = g_hash_table_new (nearby_oid_hash, nearby_oid_equal);

      /* --unshallow: every shallow the client has is deepened to the root. */
      for (guint i = 0; i < shallows->len; i++)
        if (g_hash_table_add (once, &g_array_index (shallows, git_oid, i)))
          g_array_append_val (unshallows, g_array_index (shallows, git_oid, i));
      return TRUE;
    }
  if (deepen->depth > 0)
    {
      gboolean ok
          = deepen->relative
                ? walk_depth (repo, reach, shallows, deepen->depth + 1, complete, boundary, error)
                : walk_depth (repo, reach, wants, deepen->depth, complete, boundary, error);
      if (!ok)
        return FALSE;
    }
  else if (!walk_rev_list (repo, reach, deepen, wants, complete, boundary, error))
    return FALSE;

  g_autoptr (GHashTable) shallow_set = oid_set (shallows);

  for (guint i = 0; i < boundary->len; i++)
    {
      const git_oid *oid = &g_array_index (boundary, git_oid, i);

      if (!g_hash_table_contains (shallow_set, oid))
        g_array_append_val (new_shallows, *oid);
    }
  /* Each once, however often the client repeated it. */
  for (guint i = 0; i < shallows->len; i++)
    {
      const git_oid *oid = &g_array_index (shallows, git_oid, i);

      if (g_hash_table_contains (complete, oid) && g_hash_table_remove (shallow_set, oid))
        g_array_append_val (unshallows, *oid);
    }
  return TRUE;
}
