#include "reach.h"

#include <string.h>

#include "commit-graph.h"
#include "git-util.h"
#include "nearby-error.h"

#define NO_INDEX G_MAXUINT32

struct _NearbyReach
{
  gatomicrefcount ref_count;
  git_oid tip;
  GArray *oids;    /* git_oid, in walk order; index = position */
  GArray *sorted;  /* IndexEntry, by id: the set's lookups */
  gint64 *times;   /* commit time, by index */
  guint32 *first;  /* by index: its parents are parents[first[i] .. first[i + 1]) */
  GArray *parents; /* guint32 indices */
};

/* A sorted array rather than a hash table: after a fast-forward the new
 * set's index is the old one merged with the few new ids, a sequential
 * copy, where a table would be built again entry by entry. */
typedef struct
{
  git_oid oid;
  guint32 index;
} IndexEntry;

static guint32
index_of (NearbyReach *reach, const git_oid *oid)
{
  const IndexEntry *entries = (const IndexEntry *) reach->sorted->data;
  guint lo = 0, hi = reach->sorted->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      int cmp = git_oid_cmp (&entries[mid].oid, oid);

      if (cmp == 0)
        return entries[mid].index;
      if (cmp < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return NO_INDEX;
}

static int
entry_cmp (gconstpointer a, gconstpointer b)
{
  return git_oid_cmp (&((const IndexEntry *) a)->oid, &((const IndexEntry *) b)->oid);
}

/* @few and @many, two sorted runs of entries, merged: the runs of @many
 * between two of @few's go over in one copy each. */
static GArray *
merge_entries (GArray *few, const IndexEntry *many, guint n_many)
{
  const IndexEntry *new = (const IndexEntry *) few->data;
  GArray *sorted = g_array_sized_new (FALSE, FALSE, sizeof (IndexEntry), n_many + few->len);
  guint i = 0, j = 0;

  while (i < n_many || j < few->len)
    {
      guint run = 0;

      if (j == few->len)
        run = n_many - i;
      else
        while (i + run < n_many && git_oid_cmp (&many[i + run].oid, &new[j].oid) < 0)
          run++;
      if (run > 0)
        {
          g_array_append_vals (sorted, many + i, run);
          i += run;
        }
      else
        g_array_append_val (sorted, new[j++]);
    }
  return sorted;
}

/* The entries of @reach's commits [@from, @to), sorted. */
static GArray *
sorted_entries (NearbyReach *reach, guint from, guint to)
{
  GArray *entries = g_array_sized_new (FALSE, FALSE, sizeof (IndexEntry), to - from);

  for (guint k = from; k < to; k++)
    {
      IndexEntry entry;

      git_oid_cpy (&entry.oid, &g_array_index (reach->oids, git_oid, k));
      entry.index = k;
      g_array_append_val (entries, entry);
    }
  g_array_sort (entries, entry_cmp);
  return entries;
}

/* The index of @reach's commits from @first on, merged into @base's
 * entries (NULL: none), which cover the commits before @first. */
static void
build_index (NearbyReach *reach, NearbyReach *base, guint first)
{
  g_autoptr (GArray) added = sorted_entries (reach, first, reach->oids->len);

  reach->sorted
      = merge_entries (added, base != NULL ? (const IndexEntry *) base->sorted->data : NULL,
                       base != NULL ? base->sorted->len : 0);
}

/* ---- building a set ---- */

#define CHUNK 65536

/* A set being built: commits in the order they are added, each with its
 * commit time and its parents' ids. The ids live in chunks that never move,
 * so that the table can point into them while they grow. */
typedef struct
{
  GPtrArray *chunks; /* git_oid[CHUNK] each */
  guint n;
  GHashTable *index;  /* git_oid* (in @chunks) -> index + 1 */
  GArray *times;      /* gint64, by index */
  GArray *first;      /* guint32, by index: its parents start at parent_ids[first[i]] */
  GArray *parent_ids; /* git_oid */
  GArray *stack;      /* git_oid, still to read */
} Builder;

static void
builder_init (Builder *b)
{
  b->chunks = g_ptr_array_new_with_free_func (g_free);
  b->n = 0;
  b->index = g_hash_table_new (nearby_oid_hash, nearby_oid_equal);
  b->times = g_array_new (FALSE, FALSE, sizeof (gint64));
  b->first = g_array_new (FALSE, FALSE, sizeof (guint32));
  b->parent_ids = g_array_new (FALSE, FALSE, sizeof (git_oid));
  b->stack = g_array_new (FALSE, FALSE, sizeof (git_oid));
}

static void
builder_clear (Builder *b)
{
  g_clear_pointer (&b->index, g_hash_table_unref);
  g_clear_pointer (&b->chunks, g_ptr_array_unref);
  g_clear_pointer (&b->times, g_array_unref);
  g_clear_pointer (&b->first, g_array_unref);
  g_clear_pointer (&b->parent_ids, g_array_unref);
  g_clear_pointer (&b->stack, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Builder, builder_clear)

/* Adds @oid with @time; its parents are added with builder_add_parent()
 * before the next commit is. FALSE if the set would be too large. */
static gboolean
builder_add (Builder *b, const git_oid *oid, gint64 time)
{
  git_oid *slot;

  if (b->n == NO_INDEX - 1)
    return FALSE;
  if (b->n % CHUNK == 0)
    g_ptr_array_add (b->chunks, g_new (git_oid, CHUNK));
  slot = &((git_oid *) b->chunks->pdata[b->n / CHUNK])[b->n % CHUNK];
  git_oid_cpy (slot, oid);
  g_hash_table_insert (b->index, slot, GUINT_TO_POINTER (b->n + 1));
  g_array_append_val (b->times, time);
  g_array_append_val (b->first, b->parent_ids->len);
  b->n++;
  return TRUE;
}

static void
builder_add_parent (Builder *b, const git_oid *parent)
{
  g_array_append_val (b->parent_ids, *parent);
}

/* The commit time from a raw commit's "committer NAME <EMAIL> TIME TZ"
 * line; 0 if it cannot be read (a malformed commit is still a commit). */
static gint64
committer_time (const char *data, gsize len)
{
  const char *end = data + len;
  const char *line = data;

  while (line < end)
    {
      const char *eol = memchr (line, '\n', end - line);

      if (eol == NULL)
        eol = end;
      if (eol == line)
        break; /* the headers end */
      if (eol - line > 10 && memcmp (line, "committer ", 10) == 0)
        {
          const char *gt = NULL;
          gint64 time = 0;

          for (const char *p = line; p < eol; p++)
            if (*p == '>')
              gt = p;
          if (gt == NULL)
            return 0;
          for (const char *p = gt + 1; p < eol && *p == ' '; p++)
            gt = p;
          for (const char *p = gt + 1; p < eol && g_ascii_isdigit (*p) && time < G_MAXINT64 / 10;
               p++)
            time = time * 10 + (*p - '0');
          return time;
        }
      line = eol + 1;
    }
  return 0;
}

/* Reads the commit @oid straight from the object database (its parents
 * and commit time are all the set needs: one read, no full parse) and
 * adds it. Parents not yet in @b and not in @stop are pushed on the stack;
 * those in @stop are added to @stopped. A parent that is not in the
 * database (past a shallow repository's boundary) is left out: FALSE with
 * no error when @oid is one (@tip: it must be there). */
static gboolean
builder_read (Builder *b, git_odb *odb, const git_oid *oid, gboolean tip, NearbyReach *stop,
              GArray *stopped, GError **error)
{
  g_autoptr (git_odb_object) object = NULL;
  const char *data, *end, *line;
  gsize len;
  int rc;

  if ((rc = git_odb_read (&object, odb, oid)) == GIT_ENOTFOUND && !tip)
    return FALSE;
  if (rc < 0)
    return nearby_git_error (error, rc, "cannot read commit %s", git_oid_tostr_s (oid));
  if (git_odb_object_type (object) != GIT_OBJECT_COMMIT)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "%s is not a commit",
                   git_oid_tostr_s (oid));
      return FALSE;
    }
  data = git_odb_object_data (object);
  len = git_odb_object_size (object);
  end = data + len;
  if (!builder_add (b, oid, committer_time (data, len)))
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_TOO_LARGE, "the history is too long");
      return FALSE;
    }
  /* "tree X\n", then "parent X\n" lines, in order. */
  line = data;
  while (line < end)
    {
      const char *eol = memchr (line, '\n', end - line);
      git_oid parent;

      if (eol == NULL)
        break;
      if (eol - line == 7 + GIT_OID_HEXSZ && memcmp (line, "parent ", 7) == 0
          && git_oid_fromstrn (&parent, line + 7, GIT_OID_HEXSZ) == 0)
        {
          if (stop != NULL && nearby_reach_contains (stop, &parent))
            {
              builder_add_parent (b, &parent);
              g_array_append_val (stopped, parent);
            }
          else
            {
              builder_add_parent (b, &parent);
              if (!g_hash_table_contains (b->index, &parent))
                g_array_append_val (b->stack, parent);
            }
        }
      else if (!(eol - line == 5 + GIT_OID_HEXSZ && memcmp (line, "tree ", 5) == 0))
        break;
      line = eol + 1;
    }
  return TRUE;
}

/* Whether a walk that can be stopped (every 4,096 commits) is, here. The
 * tests hold a walk ahead open at its first such point
 * (GIT_NEARBY_TEST_AHEAD_HOLD_MS) or until it is stopped, for a request
 * to overtake it. */
static gboolean
walk_stops (GCancellable *cancellable, guint steps)
{
  const char *env
      = steps == 4096 && cancellable != NULL ? g_getenv ("GIT_NEARBY_TEST_AHEAD_HOLD_MS") : NULL;
  guint64 ms = env != NULL ? MIN (g_ascii_strtoull (env, NULL, 10), 60000) : 0;

  for (guint64 i = 0; i < ms && !g_cancellable_is_cancelled (cancellable); i++)
    g_usleep (1000);
  return g_cancellable_is_cancelled (cancellable);
}

/* Reads every commit reachable from @tip, down to those of @stop and to
 * those @graph has (NULL: none), whose positions go to @in_graph: what
 * they lead to is all in the graph. */
static gboolean
builder_walk (Builder *b, git_odb *odb, NearbyCommitGraph *graph, GArray *in_graph,
              const git_oid *tip, NearbyReach *stop, GArray *stopped, GCancellable *cancellable,
              GError **error)
{
  guint32 pos;
  guint steps = 0;

  if (graph != NULL && (pos = nearby_commit_graph_find (graph, tip)) != NEARBY_COMMIT_GRAPH_NONE)
    {
      g_array_append_val (in_graph, pos);
      return TRUE;
    }
  if (!builder_read (b, odb, tip, TRUE, stop, stopped, error))
    return FALSE;
  while (b->stack->len > 0)
    {
      git_oid oid = g_array_index (b->stack, git_oid, b->stack->len - 1);

      g_array_set_size (b->stack, b->stack->len - 1);
      if (++steps % 4096 == 0 && walk_stops (cancellable, steps)
          && g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (g_hash_table_contains (b->index, &oid))
        continue; /* pushed twice: two children read before it was */
      if (graph != NULL
          && (pos = nearby_commit_graph_find (graph, &oid)) != NEARBY_COMMIT_GRAPH_NONE)
        g_array_append_val (in_graph, pos);
      else if (!builder_read (b, odb, &oid, FALSE, stop, stopped, error) && *error != NULL)
        return FALSE;
    }
  return TRUE;
}

/* Adds the members of @base reachable from @starts (members all), with
 * the parents @base knows: no reading. */
static gboolean
builder_add_from (Builder *b, NearbyReach *base, GArray *starts)
{
  g_autofree guint8 *seen = g_new0 (guint8, base->oids->len);
  g_autoptr (GArray) stack = g_array_new (FALSE, FALSE, sizeof (guint32));

  for (guint i = 0; i < starts->len; i++)
    {
      guint32 start = index_of (base, &g_array_index (starts, git_oid, i));

      if (start != NO_INDEX && !seen[start])
        {
          seen[start] = 1;
          g_array_append_val (stack, start);
        }
    }
  while (stack->len > 0)
    {
      guint32 i = g_array_index (stack, guint32, stack->len - 1);

      g_array_set_size (stack, stack->len - 1);
      if (!builder_add (b, &g_array_index (base->oids, git_oid, i), base->times[i]))
        return FALSE;
      for (guint32 p = base->first[i]; p < base->first[i + 1]; p++)
        {
          guint32 parent = g_array_index (base->parents, guint32, p);

          builder_add_parent (b, &g_array_index (base->oids, git_oid, parent));
          if (!seen[parent])
            {
              seen[parent] = 1;
              g_array_append_val (stack, parent);
            }
        }
    }
  return TRUE;
}

/* Where a parent that @b did not read lies in the set being made, or
 * NO_INDEX: not in it. */
typedef guint32 (*OtherIndexFunc) (const git_oid *id, gpointer data);

/* The parents of the commits @b read, as indices into @reach: its commit i
 * is @offset + i there, and so is a parent it read; any other parent is
 * where @other says (NULL: nowhere), or left out. */
static void
builder_parents (Builder *b, NearbyReach *reach, guint32 offset, OtherIndexFunc other,
                 gpointer other_data)
{
  for (guint i = 0; i < b->n; i++)
    {
      guint32 from = g_array_index (b->first, guint32, i);
      guint32 to = i + 1 < b->n ? g_array_index (b->first, guint32, i + 1) : b->parent_ids->len;

      reach->first[offset + i] = reach->parents->len;
      for (guint32 p = from; p < to; p++)
        {
          const git_oid *id = &g_array_index (b->parent_ids, git_oid, p);
          gpointer value = g_hash_table_lookup (b->index, id);
          guint32 parent = value != NULL   ? offset + GPOINTER_TO_UINT (value) - 1
                           : other != NULL ? other (id, other_data)
                                           : NO_INDEX;

          if (parent != NO_INDEX)
            g_array_append_val (reach->parents, parent);
        }
    }
}

/* The set @b holds, with @tip. */
static NearbyReach *
builder_finish (Builder *b, const git_oid *tip)
{
  NearbyReach *reach = g_new0 (NearbyReach, 1);
  guint n = b->n;

  g_atomic_ref_count_init (&reach->ref_count);
  git_oid_cpy (&reach->tip, tip);
  reach->oids = g_array_sized_new (FALSE, FALSE, sizeof (git_oid), n);
  for (guint c = 0; c < b->chunks->len; c++)
    g_array_append_vals (reach->oids, b->chunks->pdata[c], MIN (CHUNK, n - c * CHUNK));
  build_index (reach, NULL, 0);
  reach->times = g_new (gint64, n);
  memcpy (reach->times, b->times->data, n * sizeof (gint64));
  reach->first = g_new (guint32, n + 1);
  reach->parents = g_array_sized_new (FALSE, FALSE, sizeof (guint32), b->parent_ids->len);
  builder_parents (b, reach, 0, NULL, NULL);
  reach->first[n] = reach->parents->len;
  return reach;
}

typedef struct
{
  NearbyCommitGraph *graph;
  const guint8 *seen;          /* by position: in the set */
  const guint32 *index_of_pos; /* by position: its index in the set */
} GraphIndex;

static guint32
graph_index (const git_oid *id, gpointer data)
{
  GraphIndex *in = data;
  guint32 pos = nearby_commit_graph_find (in->graph, id);

  return pos != NEARBY_COMMIT_GRAPH_NONE && in->seen[pos] ? in->index_of_pos[pos] : NO_INDEX;
}

/* The commits @b read, then those of @graph reachable from @in_graph
 * (positions), in the graph's order, which is by id: so is their index,
 * at no cost. NULL if the graph says something impossible, or once
 * @cancellable is (it is looked at every 4,096 commits). */
static NearbyReach *
graph_finish (Builder *b, NearbyCommitGraph *graph, GArray *in_graph, const git_oid *tip,
              GCancellable *cancellable)
{
  guint steps = 0;
  guint32 n_graph = nearby_commit_graph_size (graph);
  g_autofree guint32 *index_of_pos = g_new (guint32, n_graph);
  g_autofree guint8 *seen = g_new0 (guint8, n_graph);
  g_autoptr (GArray) stack = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GArray) parents = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GArray) graph_entries = NULL;
  g_autoptr (GArray) top_entries = NULL;
  g_autoptr (NearbyReach) reach = NULL;
  GraphIndex in = { graph, seen, index_of_pos };
  guint32 next, n;

  for (guint i = 0; i < in_graph->len; i++)
    {
      guint32 pos = g_array_index (in_graph, guint32, i);

      if (!seen[pos])
        {
          seen[pos] = 1;
          g_array_append_val (stack, pos);
        }
    }
  while (stack->len > 0)
    {
      guint32 pos = g_array_index (stack, guint32, stack->len - 1);

      if (++steps % 4096 == 0 && walk_stops (cancellable, steps))
        return NULL;
      g_array_set_size (stack, stack->len - 1);
      g_array_set_size (parents, 0);
      if (!nearby_commit_graph_parents (graph, pos, parents))
        return NULL;
      for (guint p = 0; p < parents->len; p++)
        {
          guint32 parent = g_array_index (parents, guint32, p);

          if (!seen[parent])
            {
              seen[parent] = 1;
              g_array_append_val (stack, parent);
            }
        }
    }
  next = b->n;
  for (guint32 pos = 0; pos < n_graph; pos++)
    if (seen[pos])
      index_of_pos[pos] = next++;
  n = next;

  reach = g_new0 (NearbyReach, 1);
  g_atomic_ref_count_init (&reach->ref_count);
  git_oid_cpy (&reach->tip, tip);
  reach->oids = g_array_sized_new (FALSE, FALSE, sizeof (git_oid), n);
  for (guint c = 0; c < b->chunks->len; c++)
    g_array_append_vals (reach->oids, b->chunks->pdata[c], MIN (CHUNK, b->n - c * CHUNK));
  reach->times = g_new (gint64, n);
  if (b->n > 0)
    memcpy (reach->times, b->times->data, b->n * sizeof (gint64));
  reach->first = g_new (guint32, n + 1);
  reach->parents = g_array_new (FALSE, FALSE, sizeof (guint32));
  graph_entries = g_array_sized_new (FALSE, FALSE, sizeof (IndexEntry), n - b->n);
  /* The commits read, whose parents are read commits or graph ones. */
  builder_parents (b, reach, 0, graph_index, &in);
  for (guint32 pos = 0; pos < n_graph; pos++)
    {
      IndexEntry entry;
      guint32 i;

      if (!seen[pos])
        continue;
      i = index_of_pos[pos];
      nearby_commit_graph_oid (graph, pos, &entry.oid);
      entry.index = i;
      g_array_append_val (reach->oids, entry.oid);
      g_array_append_val (graph_entries, entry);
      reach->times[i] = nearby_commit_graph_time (graph, pos);
      reach->first[i] = reach->parents->len;
      g_array_set_size (parents, 0);
      nearby_commit_graph_parents (graph, pos, parents);
      for (guint p = 0; p < parents->len; p++)
        g_array_append_val (reach->parents, index_of_pos[g_array_index (parents, guint32, p)]);
    }
  reach->first[n] = reach->parents->len;
  top_entries = sorted_entries (reach, 0, b->n);
  reach->sorted
      = merge_entries (top_entries, (const IndexEntry *) graph_entries->data, graph_entries->len);
  return g_steal_pointer (&reach);
}

static guint32
base_index (const git_oid *id, gpointer base)
{
  return index_of (base, id);
}

/* @base and the new commits @b read, which lead to @base's tip: @base's
 * commits keep their indices, the new ones follow. */
static NearbyReach *
fast_forward (NearbyReach *base, Builder *b, const git_oid *tip)
{
  NearbyReach *reach = g_new0 (NearbyReach, 1);
  guint n_base = base->oids->len, n = n_base + b->n;

  g_atomic_ref_count_init (&reach->ref_count);
  git_oid_cpy (&reach->tip, tip);
  reach->oids = g_array_sized_new (FALSE, FALSE, sizeof (git_oid), n);
  g_array_append_vals (reach->oids, base->oids->data, n_base);
  for (guint c = 0; c < b->chunks->len; c++)
    g_array_append_vals (reach->oids, b->chunks->pdata[c], MIN (CHUNK, b->n - c * CHUNK));
  build_index (reach, base, n_base);
  reach->times = g_new (gint64, n);
  memcpy (reach->times, base->times, n_base * sizeof (gint64));
  memcpy (reach->times + n_base, b->times->data, b->n * sizeof (gint64));
  reach->first = g_new (guint32, n + 1);
  memcpy (reach->first, base->first, n_base * sizeof (guint32));
  reach->parents
      = g_array_sized_new (FALSE, FALSE, sizeof (guint32), base->parents->len + b->parent_ids->len);
  g_array_append_vals (reach->parents, base->parents->data, base->parents->len);
  builder_parents (b, reach, n_base, base_index, base);
  reach->first[n] = reach->parents->len;
  return reach;
}

NearbyReach *
nearby_reach_new (git_repository *repo, const git_oid *tip, GError **error)
{
  return nearby_reach_new_from (repo, NULL, tip, NULL, error);
}

static NearbyReach *reach_walk (git_repository *repo, NearbyReach *base, const git_oid *tip,
                                gboolean use_graph, GCancellable *cancellable, GError **error);

NearbyReach *
nearby_reach_new_from (git_repository *repo, NearbyReach *base, const git_oid *tip,
                       GCancellable *cancellable, GError **error)
{
  return reach_walk (repo, base, tip, TRUE, cancellable, error);
}

static NearbyReach *
reach_walk (git_repository *repo, NearbyReach *base, const git_oid *tip, gboolean use_graph,
            GCancellable *cancellable, GError **error)
{
  g_auto (Builder) b = { 0 };
  g_autoptr (GArray) in_graph = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (NearbyCommitGraph) graph = NULL;
  g_autoptr (git_odb) odb = NULL;
  g_autoptr (GArray) stopped = g_array_new (FALSE, FALSE, sizeof (git_oid));
  gboolean walked = TRUE;
  int rc;

  if (base != NULL && git_oid_equal (&base->tip, tip))
    return nearby_reach_ref (base);
  if ((rc = git_repository_odb (&odb, repo)) < 0)
    {
      nearby_git_error (error, rc, "cannot walk the history of %s", git_oid_tostr_s (tip));
      return NULL;
    }
  builder_init (&b);
  /* A rewind to a commit @base holds: nothing to read. */
  if (base != NULL && nearby_reach_contains (base, tip))
    g_array_append_val (stopped, *tip);
  else
    {
      /* A whole history: from the repository's commit-graph if it has one.
       * (Not worth its checksum for the few commits after a tip moved.) */
      if (base == NULL && use_graph)
        graph = nearby_commit_graph_open (git_repository_commondir (repo));
      walked = builder_walk (&b, odb, graph, in_graph, tip, base, stopped, cancellable, error);
    }
  if (!walked)
    {
      g_prefix_error (error, "cannot walk the history of %s: ", git_oid_tostr_s (tip));
      return NULL;
    }
  if (in_graph->len > 0)
    {
      NearbyReach *reach = graph_finish (&b, graph, in_graph, tip, cancellable);

      if (reach != NULL)
        return reach;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      g_debug ("%s: its commit-graph is inconsistent; reading every commit",
               git_repository_commondir (repo));
      builder_clear (&b);
      return reach_walk (repo, base, tip, FALSE, cancellable, error);
    }
  /* What the new commits lead to in @base is known without reading: all
   * of it when they lead to @base's tip (a fast-forward), else the part
   * below where they join it (a rewind, a force-push). */
  for (guint i = 0; i < stopped->len; i++)
    if (git_oid_equal (&g_array_index (stopped, git_oid, i), &base->tip))
      return fast_forward (base, &b, tip);
  if (stopped->len > 0 && !builder_add_from (&b, base, stopped))
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_TOO_LARGE, "the history of %s is too long",
                   git_oid_tostr_s (tip));
      return NULL;
    }
  return builder_finish (&b, tip);
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
  g_clear_pointer (&reach->sorted, g_array_unref);
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
  return index_of (reach, oid) != NO_INDEX;
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

/* Flags by index, as git's object flags in upload-pack. */
enum
{
  THEY_HAVE = 1 << 0, /* the client has it: a common, or a common's parent */
  RESULT = 1 << 1,    /* reaches a commit the client has */
  QUEUED = 1 << 2,    /* taken for the walk: to explore, or waiting below the cutoff */
  EXPLORED = 1 << 3,  /* its parents looked at */
};
#define REACHED (THEY_HAVE | RESULT)

/* "P is a parent of C", recorded when C is explored, so that a commit found
 * to reach (or to be had) marks what lies above it without a walk. */
typedef struct
{
  guint32 child;
  guint32 next; /* the next edge of the same parent, or NO_INDEX */
} Edge;

struct _NearbyReachSearch
{
  NearbyReach *reach;
  guint8 *flags;   /* by index */
  guint32 *edges;  /* by index: its first Edge as a parent, or NO_INDEX */
  GArray *edge;    /* Edge */
  GArray *pending; /* guint32 indices to explore, newer than the cutoff */
  GArray *below;   /* guint32 indices older than the cutoff: a heap, newest first */
  GArray *marks;   /* guint32 indices: work stack of mark_reached() */
  gint64 oldest;   /* git's oldest_have: the cutoff */
  guint64 budget;  /* explorations left */
  guint64 visited;
  gboolean any;
};

NearbyReachSearch *
nearby_reach_search_new (NearbyReach *reach, guint64 budget)
{
  NearbyReachSearch *search = g_new0 (NearbyReachSearch, 1);
  guint n = reach->oids->len;

  search->reach = nearby_reach_ref (reach);
  search->flags = g_new0 (guint8, n);
  search->edges = g_new (guint32, n);
  memset (search->edges, 0xff, n * sizeof (guint32)); /* NO_INDEX */
  search->edge = g_array_new (FALSE, FALSE, sizeof (Edge));
  search->pending = g_array_new (FALSE, FALSE, sizeof (guint32));
  search->below = g_array_new (FALSE, FALSE, sizeof (guint32));
  search->marks = g_array_new (FALSE, FALSE, sizeof (guint32));
  search->budget = budget;
  return search;
}

void
nearby_reach_search_free (NearbyReachSearch *search)
{
  if (search == NULL)
    return;
  g_free (search->flags);
  g_free (search->edges);
  g_array_unref (search->edge);
  g_array_unref (search->pending);
  g_array_unref (search->below);
  g_array_unref (search->marks);
  nearby_reach_unref (search->reach);
  g_free (search);
}

static void
push (GArray *stack, guint32 i)
{
  g_array_append_val (stack, i);
}

static guint32
pop (GArray *stack)
{
  guint32 i = g_array_index (stack, guint32, stack->len - 1);

  g_array_set_size (stack, stack->len - 1);
  return i;
}

/* @i (not yet REACHED) gets @flag, and every explored commit above it that
 * did not reach yet now does: each commit is marked once per search. */
static void
mark_reached (NearbyReachSearch *search, guint32 i, guint8 flag)
{
  search->flags[i] |= flag;
  push (search->marks, i);
  while (search->marks->len > 0)
    {
      guint32 parent = pop (search->marks);

      for (guint32 e = search->edges[parent]; e != NO_INDEX;
           e = g_array_index (search->edge, Edge, e).next)
        {
          guint32 child = g_array_index (search->edge, Edge, e).child;

          if (!(search->flags[child] & REACHED))
            {
              search->flags[child] |= RESULT;
              push (search->marks, child);
            }
        }
    }
}

/* The heap of commits below the cutoff, newest on top. */
static void
below_push (NearbyReachSearch *search, guint32 i)
{
  guint32 *heap;
  guint k;

  push (search->below, i);
  heap = (guint32 *) search->below->data;
  for (k = search->below->len - 1; k > 0; k = (k - 1) / 2)
    {
      guint up = (k - 1) / 2;

      guint32 tmp = heap[up];

      if (search->reach->times[tmp] >= search->reach->times[heap[k]])
        break;
      heap[up] = heap[k];
      heap[k] = tmp;
    }
}

static guint32
below_pop (NearbyReachSearch *search)
{
  guint32 *heap = (guint32 *) search->below->data;
  const gint64 *times = search->reach->times;
  guint32 top = heap[0];
  guint n = search->below->len - 1;
  guint k = 0;

  heap[0] = heap[n];
  g_array_set_size (search->below, n);
  while (TRUE)
    {
      guint newest = k;
      guint32 tmp;

      for (guint c = 2 * k + 1; c <= 2 * k + 2 && c < n; c++)
        if (times[heap[c]] > times[heap[newest]])
          newest = c;
      if (newest == k)
        break;
      tmp = heap[k];
      heap[k] = heap[newest];
      heap[newest] = tmp;
      k = newest;
    }
  return top;
}

void
nearby_reach_search_mark (NearbyReachSearch *search, const git_oid *oid)
{
  NearbyReach *reach = search->reach;
  guint32 i = index_of (reach, oid);

  if (i == NO_INDEX)
    return;
  /* As git's got_oid(): a have's parents are had too, and the cutoff is
   * the oldest have's date (not its parents'). */
  if (!(search->flags[i] & THEY_HAVE))
    mark_reached (search, i, THEY_HAVE);
  for (guint32 p = reach->first[i]; p < reach->first[i + 1]; p++)
    {
      guint32 parent = g_array_index (reach->parents, guint32, p);

      if (!(search->flags[parent] & THEY_HAVE))
        mark_reached (search, parent, THEY_HAVE);
    }
  if (!search->any || reach->times[i] < search->oldest)
    search->oldest = reach->times[i];
  search->any = TRUE;
}

/* Looks at the parents of @i: one that reaches makes @i reach; the others
 * are to be explored, or wait below the cutoff for an older have. */
static void
explore (NearbyReachSearch *search, guint32 i)
{
  NearbyReach *reach = search->reach;

  search->flags[i] |= EXPLORED;
  search->budget--;
  search->visited++;
  for (guint32 p = reach->first[i]; p < reach->first[i + 1]; p++)
    {
      guint32 parent = g_array_index (reach->parents, guint32, p);
      Edge edge = { i, search->edges[parent] };

      if (search->flags[parent] & REACHED)
        {
          mark_reached (search, i, RESULT);
          return; /* its other parents cannot matter now */
        }
      search->edges[parent] = search->edge->len;
      g_array_append_val (search->edge, edge);
      if (search->flags[parent] & QUEUED)
        continue;
      search->flags[parent] |= QUEUED;
      if (reach->times[parent] >= search->oldest)
        push (search->pending, parent);
      else
        below_push (search, parent);
    }
}

static int
newest_last (gconstpointer a, gconstpointer b, gpointer data)
{
  const gint64 *times = data;
  gint64 ta = times[*(const guint32 *) a], tb = times[*(const guint32 *) b];

  return ta < tb ? 1 : ta > tb ? -1 : 0;
}

/* git's can_all_from_reach_with_flag() for ok_to_give_up(), as one walk
 * for the whole request rather than one per call: what was explored stays
 * explored, and a new have marks what lies above it (mark_reached()), so
 * every commit is explored at most once however many haves and wants come.
 * As in git the walk goes from each want down its parents, not past the
 * oldest have's date (a parent older than it is only checked for being
 * had), the oldest wants first; a want already had counts as reaching. */
gboolean
nearby_reach_search_reaches_all (NearbyReachSearch *search, const git_oid *froms, guint n_froms)
{
  NearbyReach *reach = search->reach;
  g_autoptr (GArray) starts = g_array_sized_new (FALSE, FALSE, sizeof (guint32), n_froms);

  for (guint k = 0; k < n_froms; k++)
    {
      guint32 i = index_of (reach, &froms[k]);

      if (i == NO_INDEX)
        return FALSE;
      if (!(search->flags[i] & REACHED))
        push (starts, i);
    }
  if (!search->any)
    return FALSE;
  if (starts->len == 0)
    return TRUE;

  /* The cutoff went down since the last call: what waited above it now is
   * explored. */
  while (search->below->len > 0
         && reach->times[g_array_index (search->below, guint32, 0)] >= search->oldest)
    {
      guint32 i = below_pop (search);

      if (!(search->flags[i] & (REACHED | EXPLORED)))
        push (search->pending, i);
    }

  g_array_sort_with_data (starts, newest_last, reach->times);
  while (starts->len > 0)
    {
      guint32 start = pop (starts);

      if (search->flags[start] & REACHED)
        continue;
      /* Even when older than the cutoff (git does not check a want's date),
       * and even if it waits below it as another commit's parent. */
      if (!(search->flags[start] & QUEUED))
        {
          search->flags[start] |= QUEUED;
          push (search->pending, start);
        }
      else if (!(search->flags[start] & EXPLORED))
        push (search->pending, start);
      while (!(search->flags[start] & REACHED) && search->pending->len > 0)
        {
          guint32 i = pop (search->pending);

          if (search->flags[i] & (REACHED | EXPLORED))
            continue;
          if (search->budget == 0)
            {
              push (search->pending, i); /* not explored: the answer is not known */
              return FALSE;
            }
          explore (search, i);
        }
      /* Everything above the cutoff that it leads to was explored. */
      if (!(search->flags[start] & REACHED))
        return FALSE;
    }
  return TRUE;
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
