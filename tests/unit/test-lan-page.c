#include <string.h>

#include <json-glib/json-glib.h>

#include "browser.h"
#include "lan-page.h"

#define KEY_A "sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw="
#define KEY_B "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define ROOT_1 "1111111111111111111111111111111111111111"
#define ROOT_2 "2222222222222222222222222222222222222222"

static void
add (GPtrArray *services, const char *name, const char *host, const char *address, const char *repo,
     const char *key, const char *owner, const char *subject)
{
  NearbyService *s = g_new0 (NearbyService, 1);

  s->name = g_strdup (name);
  s->host = g_strdup (host);
  s->address = g_strdup (address);
  s->ifname = g_strdup ("eth0");
  s->port = 9419;
  s->branch = g_strdup ("main");
  s->head = repo != NULL ? g_strdup (repo) : NULL;
  s->repo = g_strdup (repo);
  s->key = g_strdup (key);
  s->owner = g_strdup (owner);
  s->subject = g_strdup (subject);
  s->date = repo != NULL ? 1700000000 : 0;
  s->url = g_strdup ("javascript:alert(0)"); /* never used: the page builds its own */
  g_ptr_array_add (services, s);
}

static NearbyLanView *
view_new (void)
{
  NearbyLanView *view = g_new0 (NearbyLanView, 1);

  view->services = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);
  view->complete = TRUE;
  return view;
}

static JsonNode *
parse (GBytes *bytes)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (bytes, NULL),
                                             g_bytes_get_size (bytes), &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

/* "project repo name,name|..." of the JSON's groups. */
static char *
groups (JsonNode *root)
{
  JsonArray *projects = json_object_get_array_member (json_node_get_object (root), "projects");
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (projects); i++)
    {
      JsonObject *p = json_array_get_object_element (projects, i);
      JsonArray *branches = json_object_get_array_member (p, "branches");
      const char *project = json_object_get_null_member (p, "project")
                                ? "-"
                                : json_object_get_string_member (p, "project");

      g_string_append_printf (out, "%s %.1s", project,
                              json_object_get_null_member (p, "repo")
                                  ? "-"
                                  : json_object_get_string_member (p, "repo"));
      for (guint j = 0; j < json_array_get_length (branches); j++)
        g_string_append_printf (
            out, "%c%s%s", j == 0 ? ' ' : ',',
            json_object_get_string_member (json_array_get_object_element (branches, j), "name"),
            json_object_get_boolean_member (json_array_get_object_element (branches, j), "self")
                ? "*"
                : "");
      g_string_append (out, "|");
    }
  return g_string_free (out, FALSE);
}

/* Groups by root, named for most of their names (ties in byte order), by
 * project name, the rootless last; this server's own marked. */
static void
test_groups (void)
{
  g_autoptr (NearbyLanView) view = view_new ();
  g_autoptr (GBytes) json = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *got = NULL;

  add (view->services, "carol/experiment", "carol", "10.0.0.3", ROOT_1, KEY_B, "Carol", "x");
  add (view->services, "fresh", "bob", "10.0.0.2", NULL, NULL, NULL, NULL);
  add (view->services, "tool/main", "carol", "10.0.0.3", ROOT_2, KEY_B, "Carol", "y");
  add (view->services, "webapp/dark", "carol", "10.0.0.3", ROOT_1, KEY_B, "Carol", "z");
  add (view->services, "webapp/main", "alice", "10.0.0.1", ROOT_1, KEY_A, "Alice", "w");
  add (view->services, "zed/a", "bob", "10.0.0.2", ROOT_2, NULL, NULL, NULL);
  json = nearby_lan_page_json (view, KEY_A);
  root = parse (json);
  got = groups (root);
  /* tool and zed tie, 1 to 1: tool comes first in byte order. */
  g_assert_cmpstr (got, ==,
                   "tool 2 tool/main,zed/a|webapp 1 carol/experiment,webapp/dark,webapp/main*|"
                   "- - fresh|");
}

/* What came from the network is text on the page; its links are http://
 * URLs of the address and port, and the name's own path. */
static void
test_hostile (void)
{
  g_autoptr (NearbyLanView) view = view_new ();
  g_autoptr (GBytes) html = NULL;
  g_autoptr (GBytes) json = NULL;
  g_autoptr (JsonNode) root = NULL;
  const char *page;

  add (view->services, "<b>x</b>/\"q'", "h<i>", "10.0.0.9", ROOT_1, KEY_B, "<img src=x>",
       "\"><script>alert(1)</script> caf\xe9");
  add (view->services, "javascript:alert(2)", "h", "fe80::1", NULL, KEY_B, "\" onclick=\"x", NULL);
  add (view->services, "nearby", "h", "10.0.0.9", NULL, KEY_B, NULL, NULL);
  html = nearby_lan_page_html (view, NULL);
  page = g_bytes_get_data (html, NULL);
  g_assert_true (g_utf8_validate (page, g_bytes_get_size (html), NULL));
  g_assert_null (strstr (page, "<script"));
  g_assert_null (strstr (page, "<img"));
  g_assert_null (strstr (page, "<b>"));
  g_assert_null (strstr (page, "<i>"));
  g_assert_null (strstr (page, "javascript:alert(0)"));
  g_assert_nonnull (strstr (page, "&lt;b&gt;x&lt;/b&gt;/&quot;q&apos;</a>"));
  g_assert_nonnull (
      strstr (page, "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt; caf\xef\xbf\xbd"));
  g_assert_nonnull (strstr (page, "&quot; onclick=&quot;x"));
  g_assert_nonnull (strstr (page, "<a href=\"http://10.0.0.9:9419/%3Cb%3Ex%3C/b%3E/%22q%27\">"));
  g_assert_nonnull (
      strstr (page, "<a href=\"http://[fe80::1%25eth0]:9419/javascript%3Aalert%282%29\">"));
  /* The branch advertised as "nearby" has its page at /nearby/. */
  g_assert_nonnull (strstr (page, "<a href=\"http://10.0.0.9:9419/nearby/\">nearby</a>"));
  g_assert_nonnull (strstr (page, "git clone http://10.0.0.9:9419/nearby</code>"));
  /* Every href is ours or one of those. */
  for (const char *p = strstr (page, "href=\""); p != NULL; p = strstr (p + 1, "href=\""))
    g_assert_true (g_str_has_prefix (p, "href=\"/\"") || g_str_has_prefix (p, "href=\"http://"));

  json = nearby_lan_page_json (view, NULL);
  root = parse (json);
  g_assert_nonnull (root);
}

/* Without avahi-daemon, the page says why; nothing is listed. */
static void
test_error (void)
{
  g_autoptr (NearbyLanView) view = view_new ();
  g_autoptr (GBytes) html = NULL;
  g_autoptr (GBytes) json = NULL;

  view->error = g_strdup ("cannot look for branches nearby: <Daemon not running>");
  html = nearby_lan_page_html (view, NULL);
  g_assert_nonnull (strstr (g_bytes_get_data (html, NULL),
                            "<p class=\"error\">Browsing the network is not possible here: cannot "
                            "look for branches nearby: &lt;Daemon not running&gt;</p>"));
  json = nearby_lan_page_json (view, NULL);
  g_assert_cmpstr (g_bytes_get_data (json, NULL), ==,
                   "{\"browsing\": false, \"error\": \"cannot look for branches nearby: <Daemon "
                   "not running>\", \"complete\": true, \"projects\": []}\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lan-page/groups", test_groups);
  g_test_add_func ("/lan-page/hostile", test_hostile);
  g_test_add_func ("/lan-page/error", test_error);
  return g_test_run ();
}
