#include "reach.h"

#include <string.h>

#include "git-util.h"
#include "nearby-error.h"

#define NO_INDEX G_MAXUINT32

struct _NearbyReach
{
  gatomicrefcount ref_count;
  git_oid tip;
  GArray *oids;        /* git_oid, in walk order; index = position */
  GHashTable *commits; /* git_oid* (in @oids) -> index + 1 */
  gint64 *times;       /* commit time, by index */
  guint32 *first;      /* by index: its parents are parents[first[i] .. first[i + 1]) */
  GArray *parents;     /* guint32 indices */
};

static guint32
index_of (NearbyReach *reach, const git_oid *oid)
{
  gpointer value = g_hash_table_lookup (reach->commits, oid);

  return value != NULL ? GPOINTER_TO_UINT (value) - 1 : NO_INDEX;
}

/* The parents and commit times of every commit walked, by index. A parent
 * outside the set (a shallow repository's graft) is left out. */
static gboolean
read_graph (NearbyReach *reach, git_repository *repo, GError **error)
{
  guint n = reach->oids->len;

  reach->times = g_new (gint64, n);
  reach->first = g_new (guint32, n + 1);
  reach->parents = g_array_sized_new (FALSE, FALSE, sizeof (guint32), n + n / 8);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (git_commit) commit = NULL;
      const git_oid *oid = &g_array_index (reach->oids, git_oid, i);
      int rc;

      if ((rc = git_commit_lookup (&commit, repo, oid)) < 0)
        return nearby_git_error (error, rc, "cannot read commit %s", git_oid_tostr_s (oid));
      reach->times[i] = git_commit_time (commit);
      reach->first[i] = reach->parents->len;
      for (unsigned int p = 0; p < git_commit_parentcount (commit); p++)
        {
          guint32 parent = index_of (reach, git_commit_parent_id (commit, p));

          if (parent != NO_INDEX)
            g_array_append_val (reach->parents, parent);
        }
    }
  reach->first[n] = reach->parents->len;
  return TRUE;
}

NearbyReach *
nearby_reach_new (git_repository *repo, const git_oid *tip, GError **error)
{
  g_autoptr (git_revwalk) walk = NULL;
  g_autoptr (NearbyReach) reach = NULL;
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
    {
      if (reach->oids->len == NO_INDEX - 1)
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_TOO_LARGE, "the history of %s is too long",
                       git_oid_tostr_s (tip));
          return NULL;
        }
      g_array_append_val (reach->oids, oid);
    }
  if (rc != GIT_ITEROVER)
    {
      nearby_git_error (error, rc, "cannot walk the history of %s", git_oid_tostr_s (tip));
      return NULL;
    }

  /* The array no longer grows, so its elements can be the keys. */
  reach->commits = g_hash_table_new (nearby_oid_hash, nearby_oid_equal);
  for (guint i = 0; i < reach->oids->len; i++)
    g_hash_table_insert (reach->commits, &g_array_index (reach->oids, git_oid, i),
                         GUINT_TO_POINTER (i + 1));
  if (!read_graph (reach, repo, error))
    return NULL;
  return g_steal_pointer (&reach);
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
  g_clear_pointer (&reach->parents, g_array_unref);
  g_free (reach->times);
  g_free (reach->first);
  g_clear_pointer (&reach->oids, g_array_unref);
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

gboolean
nearby_reach_parents (NearbyReach *reach, const git_oid *oid, GArray *parents)
{
  guint32 i = index_of (reach, oid);

  if (i == NO_INDEX)
    return FALSE;
  for (guint32 p = reach->first[i]; p < reach->first[i + 1]; p++)
    g_array_append_val (
        parents, g_array_index (reach->oids, git_oid, g_array_index (reach->parents, guint32, p)));
  return TRUE;
}

gboolean
nearby_reach_time (NearbyReach *reach, const git_oid *oid, gint64 *time)
{
  guint32 i = index_of (reach, oid);

  if (i == NO_INDEX)
    return FALSE;
  *time = reach->times[i];
  return TRUE;
}

/* ---- searches ---- */

struct _NearbyReachSearch
{
  NearbyReach *reach;
  guint8 *have;   /* by index: the client has it (git's THEY_HAVE) */
  guint32 *seen;  /* by index: the stamp of the last search that visited it */
  guint32 stamp;  /* this search's */
  GArray *stack;  /* guint32 indices still to visit */
  gint64 oldest;  /* git's oldest_have */
  guint64 budget; /* visits left */
  guint64 visited;
  gboolean any;
};

NearbyReachSearch *
nearby_reach_search_new (NearbyReach *reach, guint64 budget)
{
  NearbyReachSearch *search = g_new0 (NearbyReachSearch, 1);
  guint n = reach->oids->len;

  search->reach = nearby_reach_ref (reach);
  search->have = g_new0 (guint8, n);
  search->seen = g_new0 (guint32, n);
  search->stack = g_array_new (FALSE, FALSE, sizeof (guint32));
  search->budget = budget;
  return search;
}

void
nearby_reach_search_free (NearbyReachSearch *search)
{
  if (search == NULL)
    return;
  g_free (search->have);
  g_free (search->seen);
  g_array_unref (search->stack);
  nearby_reach_unref (search->reach);
  g_free (search);
}

void
nearby_reach_search_mark (NearbyReachSearch *search, const git_oid *oid)
{
  guint32 i = index_of (search->reach, oid);

  if (i == NO_INDEX)
    return;
  search->have[i] = 1;
  if (!search->any || search->reach->times[i] < search->oldest)
    search->oldest = search->reach->times[i];
  search->any = TRUE;
}

/* Depth first from @from, as git's can_all_from_reach_with_flag() does for
 * each of its "from" commits: a commit older than the oldest have is not
 * gone below (its parents are older still, clocks permitting; a miss only
 * costs the client another round). */
gboolean
nearby_reach_search_reaches (NearbyReachSearch *search, const git_oid *from)
{
  NearbyReach *reach = search->reach;
  guint32 start = index_of (reach, from);

  if (start == NO_INDEX || !search->any || search->budget == 0)
    return FALSE;
  if (++search->stamp == 0)
    {
      memset (search->seen, 0, reach->oids->len * sizeof (guint32));
      search->stamp = 1;
    }
  g_array_set_size (search->stack, 0);
  g_array_append_val (search->stack, start);
  search->seen[start] = search->stamp;
  while (search->stack->len > 0)
    {
      guint32 i = g_array_index (search->stack, guint32, search->stack->len - 1);

      g_array_set_size (search->stack, search->stack->len - 1);
      if (search->budget == 0)
        return FALSE;
      search->budget--;
      search->visited++;
      if (search->have[i])
        return TRUE;
      if (reach->times[i] < search->oldest)
        continue;
      for (guint32 p = reach->first[i]; p < reach->first[i + 1]; p++)
        {
          guint32 parent = g_array_index (reach->parents, guint32, p);

          if (search->seen[parent] != search->stamp)
            {
              search->seen[parent] = search->stamp;
              g_array_append_val (search->stack, parent);
            }
        }
    }
  return FALSE;
}

gboolean
nearby_reach_search_exhausted (NearbyReachSearch *search)
{
  return search->budget == 0;
}

guint64
nearby_reach_search_visited (NearbyReachSearch *search)
{
  return search->visited;
}
