#include "config.h"

#include "lan-page.h"

#include <string.h>

#include "browser.h"
#include "identity.h"
#include "json.h"
#include "name.h"
#include "url.h"
#include "web-page.h"

/* One branch on the page, with what is shown of it made here. */
typedef struct
{
  const NearbyService *s;
  char *url;   /* http://ADDRESS:PORT/PATH, to clone */
  char *page;  /* its page on its server */
  char *clone; /* the nearby:// line, or NULL: a server without a key */
  char *code;  /* the key's short code, or NULL */
  gboolean self;
} Entry;

static void
entry_free (gpointer data)
{
  Entry *e = data;

  g_free (e->url);
  g_free (e->page);
  g_free (e->clone);
  g_free (e->code);
  g_free (e);
}

static Entry *
entry_new (const NearbyService *s, const char *own_key)
{
  Entry *e = g_new0 (Entry, 1);
  g_autofree char *path = nearby_name_to_path (s->name);
  g_autofree char *page = nearby_web_page_path (s->name);

  e->s = s;
  /* Built from the resolved address and port and the name's own path,
   * never from the record's path or anything else it says: http:// and
   * nothing but an address can come out. */
  e->url = nearby_url_build_http (s->address, s->ifname, s->port, path);
  e->page = nearby_url_build_http (s->address, s->ifname, s->port, page);
  if (s->key != NULL && nearby_key_is_valid (s->key))
    {
      e->clone = nearby_clone_line (s->name, s->key);
      e->code = nearby_key_short_code (s->key);
    }
  e->self = own_key != NULL && g_strcmp0 (s->key, own_key) == 0;
  return e;
}

/* The branches of one root commit. */
typedef struct
{
  const char *repo; /* NULL: the branches that announce none */
  char *project;    /* the most common first part of their names */
  GPtrArray *entries;
} Group;

static void
group_free (gpointer data)
{
  Group *g = data;

  g_free (g->project);
  g_ptr_array_unref (g->entries);
  g_free (g);
}

/* "webapp" for "webapp/main" and "webapp/fix": what most of the group's
 * names begin with; on a tie, the first in byte order. */
static char *
project_name (GPtrArray *entries)
{
  g_autoptr (GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key, value;
  const char *best = NULL;
  guint best_count = 0;

  for (guint i = 0; i < entries->len; i++)
    {
      const char *name = ((Entry *) entries->pdata[i])->s->name;
      char *first = g_strndup (name, strcspn (name, "/"));
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, first));

      g_hash_table_insert (counts, first, GUINT_TO_POINTER (n + 1));
    }
  g_hash_table_iter_init (&iter, counts);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (GPOINTER_TO_UINT (value) > best_count
        || (GPOINTER_TO_UINT (value) == best_count && strcmp (key, best) < 0))
      {
        best = key;
        best_count = GPOINTER_TO_UINT (value);
      }
  return g_strdup (best);
}

static int
compare_groups (gconstpointer a, gconstpointer b)
{
  const Group *x = *(Group *const *) a;
  const Group *y = *(Group *const *) b;
  int c;

  if ((x->repo == NULL) != (y->repo == NULL))
    return x->repo == NULL ? 1 : -1;
  if (x->repo == NULL)
    return 0;
  c = strcmp (x->project, y->project);
  return c != 0 ? c : strcmp (x->repo, y->repo);
}

/* @view's services by root commit, each group in the view's order (by
 * name and host), the groups by project name. */
static GPtrArray *
groups_of (const NearbyLanView *view, const char *own_key)
{
  GPtrArray *groups = g_ptr_array_new_with_free_func (group_free);
  g_autoptr (GHashTable) by_repo = g_hash_table_new (g_str_hash, g_str_equal);
  Group *rootless = NULL;

  for (guint i = 0; i < view->services->len; i++)
    {
      const NearbyService *s = view->services->pdata[i];
      Group *g = s->repo != NULL ? g_hash_table_lookup (by_repo, s->repo) : rootless;

      if (g == NULL)
        {
          g = g_new0 (Group, 1);
          g->repo = s->repo;
          g->entries = g_ptr_array_new_with_free_func (entry_free);
          g_ptr_array_add (groups, g);
          if (s->repo != NULL)
            g_hash_table_insert (by_repo, (gpointer) s->repo, g);
          else
            rootless = g;
        }
      g_ptr_array_add (g->entries, entry_new (s, own_key));
    }
  for (guint i = 0; i < groups->len; i++)
    {
      Group *g = groups->pdata[i];

      g->project = project_name (g->entries);
    }
  g_ptr_array_sort (groups, compare_groups);
  return groups;
}

static void
append_entry_html (GString *out, const Entry *e)
{
  const NearbyService *s = e->s;
  g_autofree char *page = nearby_web_html_text (e->page);
  g_autofree char *url = nearby_web_html_text (e->url);
  g_autofree char *name = nearby_web_html_text (s->name);
  g_autofree char *host = nearby_web_html_text (s->host);
  g_autofree char *owner = s->owner != NULL ? nearby_web_html_text (s->owner) : NULL;
  g_autofree char *clone = e->clone != NULL ? nearby_web_html_text (e->clone) : NULL;

  g_string_append_printf (
      out, "<tr%s><td><a href=\"%s\">%s</a>%s<br><span class=\"host\">on %s</span></td>",
      e->self ? " class=\"self\"" : "", page, name,
      e->self ? " <strong class=\"mark\">this server</strong>" : "", host);
  if (owner != NULL)
    g_string_append_printf (out, "<td><span class=\"owner\">%s</span><br>", owner);
  else
    g_string_append (out, "<td><em>no name given</em><br>");
  if (e->code != NULL)
    g_string_append_printf (out, "key <code class=\"code\">%s</code></td>", e->code);
  else
    g_string_append (out, "<em>no key</em></td>");
  if (s->head == NULL)
    g_string_append (out, "<td><em>no commits yet</em></td>");
  else
    {
      g_autofree char *head = nearby_web_html_text (s->head);
      g_autofree char *subject = nearby_web_html_text (s->subject != NULL ? s->subject : "");
      g_autofree char *when = s->date > 0 ? nearby_web_age (s->date) : NULL;

      g_string_append_printf (out, "<td><code>%.7s</code> <span class=\"subject\">%s</span>", head,
                              subject);
      if (when != NULL)
        g_string_append_printf (out, " <span class=\"age\">%s</span>", when);
      g_string_append (out, "</td>");
    }
  g_string_append (out, "<td>");
  if (clone != NULL)
    g_string_append_printf (out, "<code class=\"clone\">%s</code><br>", clone);
  g_string_append_printf (out, "<code class=\"clone\">git clone %s</code></td></tr>\n", url);
}

GBytes *
nearby_lan_page_html (const NearbyLanView *view, const char *own_key)
{
  g_autoptr (GPtrArray) groups = groups_of (view, own_key);
  GString *out = g_string_new (NULL);

  nearby_web_page_start (out, "Branches nearby — git-nearby");
  g_string_append (out, "<p><a href=\"/\">This server's branches</a></p>\n"
                        "<h1>Branches advertised on this network</h1>\n");
  if (view->error != NULL)
    {
      g_autofree char *why = nearby_web_html_text (view->error);

      g_string_append_printf (out,
                              "<p class=\"error\">Browsing the network is not possible here: "
                              "%s</p>\n",
                              why);
    }
  else if (!view->complete)
    g_string_append (out, "<p class=\"partial\">The network is still answering: reload the page "
                          "for the rest.</p>\n");
  if (view->error == NULL && view->services->len == 0)
    g_string_append (out, "<p>No branch is advertised on this network.</p>\n");
  for (guint i = 0; i < groups->len; i++)
    {
      Group *g = groups->pdata[i];

      if (g->repo != NULL)
        {
          g_autofree char *project = nearby_web_html_text (g->project);
          g_autofree char *repo = nearby_web_html_text (g->repo);

          g_string_append_printf (out,
                                  "<h2 class=\"project\">%s <span class=\"root\">root "
                                  "<code>%.7s</code></span></h2>\n",
                                  project, repo);
        }
      else
        g_string_append (out, "<h2 class=\"project\">Other branches <span class=\"root\">no root "
                              "commit announced</span></h2>\n");
      g_string_append (out, "<table>\n<tr><th>Name</th><th>Owner</th><th>Head</th>"
                            "<th>Clone</th></tr>\n");
      for (guint j = 0; j < g->entries->len; j++)
        append_entry_html (out, g->entries->pdata[j]);
      g_string_append (out, "</table>\n");
    }
  return nearby_web_page_end (out);
}

GBytes *
nearby_lan_page_json (const NearbyLanView *view, const char *own_key)
{
  g_autoptr (GPtrArray) groups = groups_of (view, own_key);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "browsing");
  json_builder_add_boolean_value (builder, view->error == NULL);
  nearby_json_add_string (builder, "error", view->error);
  json_builder_set_member_name (builder, "complete");
  json_builder_add_boolean_value (builder, view->complete);
  json_builder_set_member_name (builder, "projects");
  json_builder_begin_array (builder);
  for (guint i = 0; i < groups->len; i++)
    {
      Group *g = groups->pdata[i];

      json_builder_begin_object (builder);
      nearby_json_add_string (builder, "project", g->repo != NULL ? g->project : NULL);
      nearby_json_add_string (builder, "repo", g->repo);
      json_builder_set_member_name (builder, "branches");
      json_builder_begin_array (builder);
      for (guint j = 0; j < g->entries->len; j++)
        {
          const Entry *e = g->entries->pdata[j];
          const NearbyService *s = e->s;

          json_builder_begin_object (builder);
          nearby_json_add_string (builder, "name", s->name);
          nearby_json_add_string (builder, "host", s->host);
          nearby_json_add_string (builder, "owner", s->owner);
          nearby_json_add_string (builder, "key", e->code != NULL ? s->key : NULL);
          nearby_json_add_string (builder, "code", e->code);
          nearby_json_add_string (builder, "branch", s->branch);
          nearby_json_add_string (builder, "head", s->head);
          nearby_json_add_string (builder, "subject", s->subject);
          json_builder_set_member_name (builder, "date");
          if (s->date > 0)
            json_builder_add_int_value (builder, s->date);
          else
            json_builder_add_null_value (builder);
          nearby_json_add_string (builder, "url", e->url);
          nearby_json_add_string (builder, "page", e->page);
          nearby_json_add_string (builder, "clone", e->clone);
          json_builder_set_member_name (builder, "self");
          json_builder_add_boolean_value (builder, e->self);
          json_builder_end_object (builder);
        }
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return nearby_json_to_bytes (root);
}
