/* libFuzzer harness: the commit-graph reader (server/commit-graph.c). The
 * input is the file, its trailing checksum made right first (else every
 * input would stop there): whatever it says, opening it and asking every
 * position for its id, time and parents stays in bounds. */
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "commit-graph.h"
#include "fuzz-common.h"

static char *commondir;

/* libFuzzer ends by exit(): the directory goes with the process. */
static void
remove_commondir (void)
{
  g_autofree char *path = g_build_filename (commondir, "objects", "info", "commit-graph", NULL);
  g_autofree char *info = g_path_get_dirname (path);
  g_autofree char *objects = g_path_get_dirname (info);

  g_unlink (path);
  g_rmdir (info);
  g_rmdir (objects);
  g_rmdir (commondir);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree guint8 *file = g_memdup2 (data, size);
  g_autofree char *path = NULL;
  g_autoptr (NearbyCommitGraph) graph = NULL;
  g_autoptr (GArray) parents = g_array_new (FALSE, FALSE, sizeof (guint32));

  if (commondir == NULL)
    {
      g_autofree char *info = NULL;

      commondir = g_dir_make_tmp ("fuzz-commit-graph.XXXXXX", NULL);
      info = g_build_filename (commondir, "objects", "info", NULL);
      g_mkdir_with_parents (info, 0700);
      atexit (remove_commondir);
    }
  if (size >= 20)
    {
      g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
      gsize len = 20;

      g_checksum_update (sha1, file, size - 20);
      g_checksum_get_digest (sha1, file + size - 20, &len);
    }
  path = g_build_filename (commondir, "objects", "info", "commit-graph", NULL);
  if (!g_file_set_contents (path, (const char *) file, size, NULL))
    return 0;
  graph = nearby_commit_graph_open (commondir);
  if (graph == NULL)
    return 0;
  for (guint32 pos = 0; pos < nearby_commit_graph_size (graph) && pos < 4096; pos++)
    {
      git_oid oid;

      nearby_commit_graph_oid (graph, pos, &oid);
      g_assert_cmpuint (nearby_commit_graph_find (graph, &oid), ==, pos);
      (void) nearby_commit_graph_time (graph, pos);
      g_array_set_size (parents, 0);
      if (nearby_commit_graph_parents (graph, pos, parents))
        for (guint i = 0; i < parents->len; i++)
          g_assert_cmpuint (g_array_index (parents, guint32, i), <,
                            nearby_commit_graph_size (graph));
    }
  return 0;
}
