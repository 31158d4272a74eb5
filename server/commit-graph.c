#include "commit-graph.h"

#include <string.h>

#define HASH_LEN 20
#define CHUNK_OIDF 0x4f494446 /* "OIDF" */
#define CHUNK_OIDL 0x4f49444c /* "OIDL" */
#define CHUNK_CDAT 0x43444154 /* "CDAT" */
#define CHUNK_EDGE 0x45444745 /* "EDGE" */
#define CDAT_LEN (HASH_LEN + 16)
#define PARENT_NONE 0x70000000
#define PARENT_OCTOPUS 0x80000000
#define EDGE_LAST 0x80000000

struct _NearbyCommitGraph
{
  GMappedFile *file;
  const guint8 *fanout; /* 256 big-endian counts */
  const guint8 *oids;   /* n ids, sorted */
  const guint8 *data;   /* n records: tree, parent 1, parent 2, generation and time */
  const guint8 *edges;  /* the parents of octopus merges past the first; or NULL */
  guint32 n_edges;
  guint32 n;
};

static guint32
be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static guint64
be64 (const guint8 *p)
{
  return (guint64) be32 (p) << 32 | be32 (p + 4);
}

static gboolean
checksum_matches (const guint8 *data, gsize len)
{
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[HASH_LEN];
  gsize digest_len = sizeof digest;

  g_checksum_update (sha1, data, len - HASH_LEN);
  g_checksum_get_digest (sha1, digest, &digest_len);
  return memcmp (digest, data + len - HASH_LEN, HASH_LEN) == 0;
}

NearbyCommitGraph *
nearby_commit_graph_open (const char *commondir)
{
  g_autofree char *path = g_build_filename (commondir, "objects", "info", "commit-graph", NULL);
  g_autofree char *shallow = g_build_filename (commondir, "shallow", NULL);
  g_autofree char *grafts = g_build_filename (commondir, "info", "grafts", NULL);
  g_autoptr (NearbyCommitGraph) graph = NULL;
  const guint8 *data;
  gsize len;
  guint n_chunks;
  gsize oidf = 0, oidl = 0, cdat = 0, edge = 0, edge_end = 0;

  if (g_file_test (shallow, G_FILE_TEST_EXISTS) || g_file_test (grafts, G_FILE_TEST_EXISTS))
    return NULL;
  graph = g_new0 (NearbyCommitGraph, 1);
  if ((graph->file = g_mapped_file_new (path, FALSE, NULL)) == NULL)
    return NULL;
  data = (const guint8 *) g_mapped_file_get_contents (graph->file);
  len = g_mapped_file_get_length (graph->file);
  /* "CGPH", version 1, SHA-1, chunks, no base graphs. */
  if (len < 8 + HASH_LEN || memcmp (data, "CGPH", 4) != 0 || data[4] != 1 || data[5] != 1
      || data[7] != 0)
    return NULL;
  n_chunks = data[6];
  if (8 + (gsize) (n_chunks + 1) * 12 > len - HASH_LEN)
    return NULL;
  for (guint i = 0; i < n_chunks; i++)
    {
      const guint8 *entry = data + 8 + i * 12;
      guint64 start = be64 (entry + 4), end = be64 (entry + 16);

      if (start > end || end > len - HASH_LEN)
        return NULL;
      switch (be32 (entry))
        {
        case CHUNK_OIDF:
          oidf = start;
          if (end - start != 256 * 4)
            return NULL;
          break;
        case CHUNK_OIDL:
          oidl = start;
          graph->n = (end - start) / HASH_LEN;
          if ((end - start) % HASH_LEN != 0)
            return NULL;
          break;
        case CHUNK_CDAT:
          cdat = start;
          if ((end - start) % CDAT_LEN != 0)
            return NULL;
          break;
        case CHUNK_EDGE:
          edge = start;
          edge_end = end;
          if ((end - start) % 4 != 0)
            return NULL;
          break;
        default:
          break; /* generation data, Bloom filters: not needed here */
        }
    }
  if (oidf == 0 || oidl == 0 || cdat == 0 || be32 (data + oidf + 255 * 4) != graph->n
      || be64 (data + 8 + n_chunks * 12 + 4) > len - HASH_LEN)
    return NULL;
  if ((gsize) graph->n * CDAT_LEN > len - cdat)
    return NULL;
  for (guint i = 1; i < 256; i++)
    if (be32 (data + oidf + i * 4) < be32 (data + oidf + (i - 1) * 4))
      return NULL;
  /* Ids strictly in order, each in its fanout bucket: else a lookup could
   * miss a commit the file has, or find another. */
  for (guint32 i = 0; i < graph->n; i++)
    {
      const guint8 *id = data + oidl + (gsize) i * HASH_LEN;
      guint32 low = id[0] == 0 ? 0 : be32 (data + oidf + (id[0] - 1) * 4);

      if (i < low || i >= be32 (data + oidf + id[0] * 4)
          || (i > 0 && memcmp (id - HASH_LEN, id, HASH_LEN) >= 0))
        return NULL;
    }
  if (!checksum_matches (data, len))
    return NULL;
  graph->fanout = data + oidf;
  graph->oids = data + oidl;
  graph->data = data + cdat;
  graph->edges = edge != 0 ? data + edge : NULL;
  graph->n_edges = edge != 0 ? (edge_end - edge) / 4 : 0;
  return g_steal_pointer (&graph);
}

void
nearby_commit_graph_free (NearbyCommitGraph *graph)
{
  if (graph == NULL)
    return;
  g_clear_pointer (&graph->file, g_mapped_file_unref);
  g_free (graph);
}

guint32
nearby_commit_graph_size (NearbyCommitGraph *graph)
{
  return graph->n;
}

guint32
nearby_commit_graph_find (NearbyCommitGraph *graph, const git_oid *oid)
{
  const guint8 *id = (const guint8 *) oid;
  guint32 lo = id[0] == 0 ? 0 : be32 (graph->fanout + (id[0] - 1) * 4);
  guint32 hi = be32 (graph->fanout + id[0] * 4);

  if (hi > graph->n || lo > hi)
    return NEARBY_COMMIT_GRAPH_NONE;
  while (lo < hi)
    {
      guint32 mid = lo + (hi - lo) / 2;
      int cmp = memcmp (graph->oids + (gsize) mid * HASH_LEN, id, HASH_LEN);

      if (cmp == 0)
        return mid;
      if (cmp < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return NEARBY_COMMIT_GRAPH_NONE;
}

void
nearby_commit_graph_oid (NearbyCommitGraph *graph, guint32 pos, git_oid *oid)
{
  git_oid_fromraw (oid, graph->oids + (gsize) pos * HASH_LEN);
}

gint64
nearby_commit_graph_time (NearbyCommitGraph *graph, guint32 pos)
{
  const guint8 *record = graph->data + (gsize) pos * CDAT_LEN;

  return (gint64) (be32 (record + HASH_LEN + 8) & 0x3) << 32 | be32 (record + HASH_LEN + 12);
}

static gboolean
add_parent (NearbyCommitGraph *graph, guint32 parent, GArray *parents)
{
  if (parent >= graph->n)
    return FALSE;
  g_array_append_val (parents, parent);
  return TRUE;
}

gboolean
nearby_commit_graph_parents (NearbyCommitGraph *graph, guint32 pos, GArray *parents)
{
  const guint8 *record = graph->data + (gsize) pos * CDAT_LEN;
  guint32 first = be32 (record + HASH_LEN), second = be32 (record + HASH_LEN + 4);

  if (first == PARENT_NONE)
    return second == PARENT_NONE;
  if (!add_parent (graph, first, parents))
    return FALSE;
  if (second == PARENT_NONE)
    return TRUE;
  if (!(second & PARENT_OCTOPUS))
    return add_parent (graph, second, parents);
  /* An octopus: the rest are in the edge list, the last one flagged. */
  for (guint32 e = second & ~PARENT_OCTOPUS; e < graph->n_edges; e++)
    {
      guint32 value = be32 (graph->edges + (gsize) e * 4);

      if (!add_parent (graph, value & ~EDGE_LAST, parents))
        return FALSE;
      if (value & EDGE_LAST)
        return TRUE;
    }
  return FALSE;
}
