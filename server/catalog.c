/* git-nearby: the registry — the repositories found under the served
 * directories, the branches they opt in by advertised name, and the
 * "changed" signal when that set moves. */
#include "catalog.h"

#include <string.h>

#include "catalog-private.h"
#include "git-util.h"
#include "opt-in.h"
#include "reach-warm.h"
#include "scanner.h"

struct _NearbyCatalog
{
  GObject parent_instance;
  GStrv roots;
  guint max_depth;
  gboolean nested;
  GPtrArray *repos;     /* NearbyRepo, sorted by gitdir */
  GHashTable *by_name;  /* name -> NearbyBranch */
  GHashTable *reported; /* problems already logged once */
  NearbyReachWarmer *warmer;
};

G_DEFINE_TYPE (NearbyCatalog, nearby_catalog, G_TYPE_OBJECT)

enum
{
  SIGNAL_CHANGED,
  SIGNAL_TIPS_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

void
nearby_catalog_emit_changed (NearbyCatalog *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

void
nearby_catalog_emit_tips_changed (NearbyCatalog *self)
{
  g_signal_emit (self, signals[SIGNAL_TIPS_CHANGED], 0);
}

void
nearby_catalog_warm (NearbyCatalog *self, NearbyRepo *repo)
{
  nearby_reach_warmer_queue (self->warmer, repo);
}

NearbyBranch *
nearby_branch_ref (NearbyBranch *branch)
{
  return g_rc_box_acquire (branch);
}

static void
branch_clear (NearbyBranch *branch)
{
  g_free (branch->name);
  g_free (branch->branch);
  g_free (branch->refname);
  nearby_repo_unref (branch->repo);
}

void
nearby_branch_unref (NearbyBranch *branch)
{
  g_rc_box_release_full (branch, (GDestroyNotify) branch_clear);
}

git_repository *
nearby_branch_git (NearbyBranch *branch)
{
  return branch->repo->git;
}

const char *
nearby_branch_gitdir (NearbyBranch *branch)
{
  return branch->repo->gitdir;
}

/* ---- the catalog ---- */

static void report_once (NearbyCatalog *self, const char *key, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static void
report_once (NearbyCatalog *self, const char *key, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  if (g_hash_table_contains (self->reported, key))
    return;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_warning ("%s", message);
  g_hash_table_add (self->reported, g_strdup (key));
}

static gboolean
same_names (GHashTable *a, GHashTable *b)
{
  GHashTableIter iter;
  gpointer key, value;

  if (g_hash_table_size (a) != g_hash_table_size (b))
    return FALSE;
  g_hash_table_iter_init (&iter, a);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      NearbyBranch *x = value, *y = g_hash_table_lookup (b, key);

      if (y == NULL || x->repo != y->repo || strcmp (x->branch, y->branch) != 0)
        return FALSE;
    }
  return TRUE;
}

void
nearby_catalog_rebuild (NearbyCatalog *self)
{
  g_autoptr (GHashTable) by_name
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) nearby_branch_unref);

  for (guint i = 0; i < self->repos->len; i++)
    {
      NearbyRepo *repo = self->repos->pdata[i];

      for (guint j = 0; j < repo->opt_ins->len; j++)
        {
          NearbyOptIn *opt_in = repo->opt_ins->pdata[j];
          g_autofree char *key = g_strdup_printf ("%s\n%s\n%s", repo->gitdir, opt_in->branch,
                                                  opt_in->name != NULL ? opt_in->name : "");
          NearbyBranch *taken, *branch;

          if (opt_in->problem != NULL)
            {
              report_once (self, key, "%s: branch '%s' is not served: %s", repo->gitdir,
                           opt_in->branch, opt_in->problem);
              continue;
            }
          taken = g_hash_table_lookup (by_name, opt_in->name);
          if (taken != NULL)
            {
              /* Repositories are in path order, so the same one always wins. */
              report_once (self, key,
                           "'%s' is advertised by both %s (branch %s) and %s (branch %s); "
                           "serving the first only (the first path wins); give the other "
                           "another name with: git nearby advertise NAME --branch %s",
                           opt_in->name, taken->repo->gitdir, taken->branch, repo->gitdir,
                           opt_in->branch, opt_in->branch);
              continue;
            }
          branch = g_rc_box_new0 (NearbyBranch);
          branch->name = g_strdup (opt_in->name);
          branch->branch = g_strdup (opt_in->branch);
          branch->refname = g_strconcat ("refs/heads/", opt_in->branch, NULL);
          branch->repo = nearby_repo_ref (repo);
          g_hash_table_insert (by_name, branch->name, branch);
        }
    }

  if (self->by_name != NULL && same_names (self->by_name, by_name))
    return;
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  self->by_name = g_steal_pointer (&by_name);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static int
compare_repos (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(NearbyRepo *const *) a)->gitdir, (*(NearbyRepo *const *) b)->gitdir);
}

static void
drop_repo (gpointer data)
{
  NearbyRepo *repo = data;

  repo->catalog = NULL;
  nearby_repo_unref (repo);
}

/* The repository @found belongs to: one of @known (by common directory,
 * canonical) with its watches and reach sets, its opt-ins read again; else
 * a new one. */
static NearbyRepo *
repo_find_or_open (NearbyCatalog *self, GHashTable *known, const char *found, GError **error)
{
  g_autoptr (git_repository) git = nearby_git_open (found, error);
  g_autofree char *common = NULL;
  g_autofree char *gitdir = NULL;
  NearbyRepo *repo;

  if (git == NULL)
    return NULL;
  common = nearby_git_common_dir (git);
  gitdir = nearby_canonical_dir (common);
  if ((repo = g_hash_table_lookup (known, gitdir)) == NULL)
    return nearby_repo_open (self, found, error);
  nearby_repo_reload (repo);
  return nearby_repo_ref (repo);
}

/* Looks for repositories again: new ones are opened, gone ones dropped,
 * and those still there kept as they are (watches, reach sets, roots). */
void
nearby_catalog_rescan (NearbyCatalog *self)
{
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) found
      = nearby_scan ((const char *const *) self->roots, self->max_depth, self->nested, problems);
  g_autoptr (GPtrArray) repos = g_ptr_array_new_with_free_func (drop_repo);
  g_autoptr (GHashTable) gitdirs = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) known = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) old = g_steal_pointer (&self->repos);
  guint kept = 0;

  for (guint i = 0; i < problems->len; i++)
    g_warning ("%s", (char *) problems->pdata[i]);
  for (guint i = 0; old != NULL && i < old->len; i++)
    g_hash_table_insert (known, ((NearbyRepo *) old->pdata[i])->gitdir, old->pdata[i]);

  for (guint i = 0; i < found->len; i++)
    {
      g_autoptr (GError) error = NULL;
      NearbyRepo *repo = repo_find_or_open (self, known, found->pdata[i], &error);

      if (repo == NULL)
        {
          report_once (self, found->pdata[i], "%s", error->message);
          continue;
        }
      /* A repository and its linked worktrees share one common directory. */
      if (!g_hash_table_add (gitdirs, repo->gitdir))
        {
          if (g_hash_table_contains (known, repo->gitdir))
            nearby_repo_unref (repo);
          else
            drop_repo (repo);
          continue;
        }
      kept += g_hash_table_contains (known, repo->gitdir);
      g_ptr_array_add (repos, repo);
    }
  g_ptr_array_sort (repos, compare_repos);

  /* The old list lets go of its repositories; those not found again leave
   * the catalog. */
  if (old != NULL)
    {
      g_ptr_array_set_free_func (old, NULL);
      for (guint i = 0; i < old->len; i++)
        {
          NearbyRepo *repo = old->pdata[i];

          if (g_hash_table_contains (gitdirs, repo->gitdir))
            nearby_repo_unref (repo);
          else
            drop_repo (repo);
        }
    }
  g_debug ("rescan: %u repositories, %u of them kept as they were", repos->len, kept);
  self->repos = g_steal_pointer (&repos);
  nearby_catalog_rebuild (self);
}

void
nearby_catalog_notice_repository (NearbyCatalog *self, const char *repository)
{
  g_autofree char *path = nearby_canonical_dir (repository);

  for (guint i = 0; i < self->repos->len; i++)
    {
      NearbyRepo *repo = self->repos->pdata[i];

      if (strcmp (repo->gitdir, path) == 0)
        {
          g_debug ("%s: told its opt-ins changed", repo->gitdir);
          nearby_repo_reload (repo);
          nearby_catalog_rebuild (self);
          return;
        }
    }
  for (char **root = self->roots; *root != NULL; root++)
    {
      g_autofree char *dir = nearby_canonical_dir (*root);
      g_autofree char *prefix = g_strconcat (dir, "/", NULL);

      if (g_str_has_prefix (path, prefix) || strcmp (path, dir) == 0)
        {
          g_message ("a new repository opted in (%s); looking again", path);
          nearby_catalog_rescan (self);
          return;
        }
    }
  g_debug ("%s opted in, but is not under a served directory", path);
}

NearbyBranch *
nearby_catalog_lookup (NearbyCatalog *self, const char *name)
{
  NearbyBranch *branch = g_hash_table_lookup (self->by_name, name);

  return branch != NULL ? nearby_branch_ref (branch) : NULL;
}

static int
compare_branches (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(NearbyBranch *const *) a)->name, (*(NearbyBranch *const *) b)->name);
}

GPtrArray *
nearby_catalog_list (NearbyCatalog *self)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_branch_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->by_name);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, nearby_branch_ref (value));
  g_ptr_array_sort (list, compare_branches);
  return list;
}

guint
nearby_catalog_n_repositories (NearbyCatalog *self)
{
  return self->repos->len;
}

static NearbyRepo *
find_repo (NearbyCatalog *self, const char *gitdir)
{
  for (guint i = 0; i < self->repos->len; i++)
    {
      NearbyRepo *repo = self->repos->pdata[i];

      if (strcmp (repo->gitdir, gitdir) == 0)
        return repo;
    }
  return NULL;
}

static const char *
explain_served_repo (NearbyCatalog *self, NearbyRepo *repo, const char *branch,
                     GVariantDict *details)
{
  NearbyOptIn *mine = NULL;
  NearbyBranch *taken;

  for (guint i = 0; i < repo->opt_ins->len && mine == NULL; i++)
    if (strcmp (((NearbyOptIn *) repo->opt_ins->pdata[i])->branch, branch) == 0)
      mine = repo->opt_ins->pdata[i];
  if (mine == NULL)
    return "not-advertised";
  if (mine->problem != NULL)
    {
      g_variant_dict_insert (details, "problem", "s", mine->problem);
      return "problem";
    }
  g_variant_dict_insert (details, "name", "s", mine->name);
  taken = g_hash_table_lookup (self->by_name, mine->name);
  if (taken == NULL)
    return "not-advertised";
  if (taken->repo != repo || strcmp (taken->branch, branch) != 0)
    {
      g_variant_dict_insert (details, "repository", "s", taken->repo->gitdir);
      g_variant_dict_insert (details, "branch", "s", taken->branch);
      return "collision";
    }
  /* Ours won: whoever else wanted the name is not served under it. */
  for (guint i = 0; i < self->repos->len; i++)
    {
      NearbyRepo *other = self->repos->pdata[i];

      for (guint j = 0; j < other->opt_ins->len; j++)
        {
          NearbyOptIn *opt_in = other->opt_ins->pdata[j];

          if (opt_in->problem != NULL || strcmp (opt_in->name, mine->name) != 0
              || (other == repo && strcmp (opt_in->branch, branch) == 0))
            continue;
          g_variant_dict_insert (details, "displaced-repository", "s", other->gitdir);
          g_variant_dict_insert (details, "displaced-branch", "s", opt_in->branch);
          return "served";
        }
    }
  return "served";
}

const char *
nearby_catalog_explain (NearbyCatalog *self, const char *repository, const char *branch,
                        GVariantDict *details)
{
  g_autofree char *gitdir = nearby_canonical_dir (repository);
  g_autofree char *base = g_path_get_basename (gitdir);
  g_autofree char *dir = NULL;
  g_autofree char *where = NULL;
  g_auto (GStrv) roots = NULL;
  NearbyRepo *repo = find_repo (self, gitdir);
  guint depth = 0;

  if (repo != NULL)
    {
      /* Fresh, whether or not the Changed signal came first. */
      nearby_repo_reload (repo);
      nearby_catalog_rebuild (self);
      return explain_served_repo (self, repo, branch, details);
    }

  /* A working tree's .git, or a bare repository itself. */
  dir = strcmp (base, ".git") == 0 ? g_path_get_dirname (gitdir) : g_strdup (gitdir);
  roots = g_new0 (char *, g_strv_length (self->roots) + 1);
  for (guint i = 0; self->roots[i] != NULL; i++)
    roots[i] = nearby_canonical_dir (self->roots[i]);
  switch (nearby_scan_explain ((const char *const *) roots, self->max_depth, self->nested, dir,
                               &where, &depth))
    {
    case NEARBY_SCAN_FOUND:
      /* Created since the last scan, and no signal said so. */
      nearby_catalog_rescan (self);
      if ((repo = find_repo (self, gitdir)) != NULL)
        return explain_served_repo (self, repo, branch, details);
      return "not-found";
    case NEARBY_SCAN_OUTSIDE:
      g_variant_dict_insert (details, "directories", "^as", roots);
      return "outside";
    case NEARBY_SCAN_TOO_DEEP:
      g_variant_dict_insert (details, "directory", "s", where);
      g_variant_dict_insert (details, "depth", "u", depth);
      g_variant_dict_insert (details, "max-depth", "u", self->max_depth);
      return "too-deep";
    case NEARBY_SCAN_NESTED:
      g_variant_dict_insert (details, "repository", "s", where);
      return "nested";
    case NEARBY_SCAN_HIDDEN:
      g_variant_dict_insert (details, "directory", "s", where);
      return "hidden";
    case NEARBY_SCAN_NOT_A_REPOSITORY:
    default:
      return "not-found";
    }
}

static void
nearby_catalog_finalize (GObject *object)
{
  NearbyCatalog *self = NEARBY_CATALOG (object);

  /* First: what it holds keeps repositories. */
  g_clear_pointer (&self->warmer, nearby_reach_warmer_free);
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->repos, g_ptr_array_unref);
  g_clear_pointer (&self->reported, g_hash_table_unref);
  g_strfreev (self->roots);
  G_OBJECT_CLASS (nearby_catalog_parent_class)->finalize (object);
}

static void
nearby_catalog_class_init (NearbyCatalogClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nearby_catalog_finalize;
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_TIPS_CHANGED]
      = g_signal_new ("tips-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 0);
}

static void
nearby_catalog_init (NearbyCatalog *self)
{
  self->reported = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->warmer = nearby_reach_warmer_new ();
  self->repos = g_ptr_array_new_with_free_func (drop_repo);
  self->by_name
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) nearby_branch_unref);
}

NearbyCatalog *
nearby_catalog_new (const char *const *roots, guint max_depth, gboolean nested)
{
  NearbyCatalog *self = g_object_new (NEARBY_TYPE_CATALOG, NULL);

  self->roots = g_strdupv ((char **) roots);
  self->max_depth = max_depth;
  self->nested = nested;
  return self;
}
