#include "config.h"

#include "http-server.h"

#include <net/if.h>
#include <string.h>

#include "branch-jobs.h"
#include "lan-page.h"
#include "lan-watch.h"
#include "name.h"
#include "nearby-error.h"
#include "pack-stream.h"
#include "upload-pack.h"
#include "url.h"
#include "web-page.h"

typedef struct
{
  NearbyCatalog *catalog;
  NearbyPackCache *cache;
  char *key;
  char *owner;
  NearbyWebIdentity who; /* of the two above */
  NearbyLanWatch *lan;   /* for /nearby: browses only while it is asked for */
} Routes;

static void
routes_free (gpointer data)
{
  Routes *routes = data;

  nearby_lan_watch_free (routes->lan);
  g_object_unref (routes->catalog);
  g_free (routes->key);
  g_free (routes->owner);
  g_free (routes);
}

static void
respond (SoupServerMessage *msg, guint status, const char *content_type, GBytes *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY,
                                    g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static void respond_text (SoupServerMessage *msg, guint status, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static void
respond_text (SoupServerMessage *msg, guint status, const char *format, ...)
{
  g_autofree char *text = NULL;
  g_autoptr (GBytes) body = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  body = g_bytes_new_take (g_strconcat (text, "\n", NULL), strlen (text) + 1);
  respond (msg, status, "text/plain; charset=utf-8", body);
}

static void
no_cache (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (headers, "Expires", "Fri, 01 Jan 1980 00:00:00 GMT");
  soup_message_headers_replace (headers, "Pragma", "no-cache");
  soup_message_headers_replace (headers, "Cache-Control", "no-cache, max-age=0, must-revalidate");
}

static gboolean
wants_v2 (SoupServerMessage *msg)
{
  const char *header = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                     "Git-Protocol");
  g_auto (GStrv) parts = NULL;

  if (header == NULL)
    return FALSE;
  parts = g_strsplit (header, ":", 16);
  for (char **p = parts; *p != NULL; p++)
    if (strcmp (g_strstrip (*p), "version=2") == 0)
      return TRUE;
  return FALSE;
}

/* The zone of the interface @msg came in on, when it came to a link-local
 * IPv6 address: "eth0"; else NULL. */
static char *
local_zone (SoupServerMessage *msg)
{
  GSocketAddress *local = soup_server_message_get_local_address (msg);
  char name[IF_NAMESIZE] = "";
  GInetAddress *address;
  guint32 scope;

  if (!G_IS_INET_SOCKET_ADDRESS (local))
    return NULL;
  address = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local));
  scope = g_inet_socket_address_get_scope_id (G_INET_SOCKET_ADDRESS (local));
  if (!g_inet_address_get_is_link_local (address) || scope == 0
      || if_indextoname (scope, name) == NULL)
    return NULL;
  return g_strdup (name);
}

/* "http://ADDRESS:PORT" of the socket @msg came in on: not the request's
 * URI, which libsoup makes from the Host header. (Our IPv6 sockets are
 * IPV6_V6ONLY: no IPv4-mapped address comes here.) */
static char *
own_url (SoupServerMessage *msg)
{
  GSocketAddress *local = soup_server_message_get_local_address (msg);
  g_autofree char *text = NULL;
  g_autofree char *zone = local_zone (msg);

  if (!G_IS_INET_SOCKET_ADDRESS (local))
    return g_strdup ("http://localhost");
  text = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
  return nearby_url_build_http (text, zone,
                                g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)), "");
}

/* "http://HOST:PORT" as the client reached us. A browser leaves the zone
 * out of a link-local address's Host ("[fe80::1]:9419"), and such a URL is
 * of no use on the page: the zone of the interface it came in on goes in.
 * A Host that is no plain authority (userinfo, a path, not UTF-8) gives
 * our own address. */
static char *
base_url (SoupServerMessage *msg)
{
  const char *host
      = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Host");
  g_autoptr (GUri) reached = NULL;

  if (host != NULL && *host != '\0' && strpbrk (host, " \"<>/\\?#@") == NULL)
    {
      g_autofree char *typed = g_strconcat ("http://", host, NULL);

      /* NON_DNS: a .local name stays as mDNS has it, not punycode. */
      reached = g_uri_parse (typed, G_URI_FLAGS_NON_DNS, NULL);
    }
  if (reached != NULL && g_uri_get_host (reached) != NULL && *g_uri_get_host (reached) != '\0')
    {
      const char *name = g_uri_get_host (reached);
      g_autofree char *zone = nearby_url_is_link_local (name) ? local_zone (msg) : NULL;
      g_autofree char *zoned = zone != NULL ? g_strdup_printf ("%s%%%s", name, zone) : NULL;

      return g_uri_join (G_URI_FLAGS_NON_DNS, "http", NULL, zoned != NULL ? zoned : name,
                         g_uri_get_port (reached), "", NULL, NULL);
    }
  return own_url (msg);
}

/* The branch a path names, or a 404 already set on @msg. */
static NearbyBranch *
lookup (NearbyCatalog *catalog, SoupServerMessage *msg, const char *path, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;
  NearbyBranch *branch;

  if (len == 0 || (name = nearby_name_from_path (path, len, &error)) == NULL
      || (branch = nearby_catalog_lookup (catalog, name)) == NULL)
    {
      g_autofree char *shown = g_strndup (path, MIN (len, 200));

      g_debug ("%s /%s: no such branch here", soup_server_message_get_method (msg), shown);
      respond_text (msg, SOUP_STATUS_NOT_FOUND, "git-nearby: no branch is advertised as '%s' here",
                    name != NULL ? name : shown);
      return NULL;
    }
  return branch;
}

/* The answer for a branch that is gone or cannot be read. */
static void
respond_unreadable (NearbyBranch *branch, SoupServerMessage *msg, const GError *error)
{
  if (g_error_matches (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND))
    {
      g_message ("%s: %s", branch->name, error->message);
      respond_text (msg, SOUP_STATUS_NOT_FOUND, "git-nearby: branch '%s' is no longer here",
                    branch->name);
    }
  else
    {
      g_warning ("%s: %s", branch->name, error->message);
      respond_text (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "git-nearby: cannot read branch '%s'",
                    branch->name);
    }
}

static gboolean
resolve (NearbyBranch *branch, SoupServerMessage *msg, NearbyUploadTarget *target)
{
  g_autoptr (GError) error = NULL;

  if (nearby_branch_resolve (branch, target, &error))
    return TRUE;
  respond_unreadable (branch, msg, error);
  return FALSE;
}

static void
serve_info_refs (NearbyCatalog *catalog, SoupServerMessage *msg, const char *name_path, gsize len,
                 GHashTable *query)
{
  const char *service = query != NULL ? g_hash_table_lookup (query, "service") : NULL;
  g_autoptr (NearbyBranch) branch = NULL;
  g_auto (NearbyUploadTarget) target = { 0 };
  g_autoptr (GBytes) body = NULL;
  gboolean v2 = wants_v2 (msg);

  if (g_strcmp0 (service, "git-receive-pack") == 0)
    {
      respond_text (msg, SOUP_STATUS_FORBIDDEN, "git-nearby is read-only: pushing is not possible");
      return;
    }
  if (service == NULL)
    {
      respond_text (msg, SOUP_STATUS_FORBIDDEN,
                    "git-nearby speaks smart HTTP only; dumb HTTP is not served");
      return;
    }
  if (strcmp (service, "git-upload-pack") != 0)
    {
      respond_text (msg, SOUP_STATUS_FORBIDDEN, "git-nearby: unknown service");
      return;
    }
  if ((branch = lookup (catalog, msg, name_path, len)) == NULL || !resolve (branch, msg, &target))
    return;

  g_debug ("%s: ref advertisement (protocol v%d)", branch->name, v2 ? 2 : 0);
  body = nearby_upload_pack_advertise (&target, v2);
  no_cache (msg);
  respond (msg, SOUP_STATUS_OK, "application/x-git-upload-pack-advertisement", body);
}

static GBytes *
inflate (GBytes *compressed, GError **error)
{
  g_autoptr (GZlibDecompressor) z = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autofree guint8 *buffer = g_malloc (65536);
  const guint8 *in = g_bytes_get_data (compressed, NULL);
  gsize left = g_bytes_get_size (compressed);

  while (TRUE)
    {
      gsize read = 0, written = 0;
      GConverterResult result
          = g_converter_convert (G_CONVERTER (z), in, left, buffer, 65536, G_CONVERTER_INPUT_AT_END,
                                 &read, &written, error);

      if (result == G_CONVERTER_ERROR)
        return NULL;
      g_byte_array_append (out, buffer, written);
      if (out->len > NEARBY_MAX_REQUEST_BYTES)
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_TOO_LARGE,
                       "the request inflates to more than %d MiB", NEARBY_MAX_REQUEST_BYTES >> 20);
          return NULL;
        }
      in += read;
      left -= read;
      if (result == G_CONVERTER_FINISHED)
        break;
      if (read == 0 && written == 0)
        {
          g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "truncated gzip body");
          return NULL;
        }
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static void answer_upload_pack (Routes *routes, SoupServerMessage *msg, NearbyBranch *branch,
                                GBytes *body, gboolean v2, const char *label);

static void
serve_upload_pack (Routes *routes, SoupServerMessage *msg, const char *name_path, gsize len)
{
  NearbyCatalog *catalog = routes->catalog;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *content_type = soup_message_headers_get_content_type (headers, NULL);
  const char *encoding = soup_message_headers_get_one (headers, "Content-Encoding");
  g_autoptr (NearbyBranch) branch = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *label = NULL;
  gboolean v2 = wants_v2 (msg);

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "git-nearby: git-upload-pack takes POST");
      return;
    }
  if (g_strcmp0 (content_type, "application/x-git-upload-pack-request") != 0)
    {
      respond_text (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
                    "git-nearby: expected Content-Type application/x-git-upload-pack-request");
      return;
    }
  if ((branch = lookup (catalog, msg, name_path, len)) == NULL)
    return;

  body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  if (encoding != NULL
      && (g_ascii_strcasecmp (encoding, "gzip") == 0
          || g_ascii_strcasecmp (encoding, "x-gzip") == 0))
    {
      GBytes *inflated = inflate (body, &error);

      if (inflated == NULL)
        {
          g_message ("%s: refused a request body: %s", branch->name, error->message);
          respond_text (msg,
                        g_error_matches (error, NEARBY_ERROR, NEARBY_ERROR_TOO_LARGE)
                            ? SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE
                            : SOUP_STATUS_BAD_REQUEST,
                        "git-nearby: %s", error->message);
          return;
        }
      g_bytes_unref (body);
      body = inflated;
    }
  else if (encoding != NULL && g_ascii_strcasecmp (encoding, "identity") != 0)
    {
      respond_text (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
                    "git-nearby: unsupported Content-Encoding");
      return;
    }

  label = g_strdup_printf ("%s (v%d, from %s)", branch->name, v2 ? 2 : 0,
                           soup_server_message_get_remote_host (msg));
  answer_upload_pack (routes, msg, branch, body, v2, label);
}

/* A request whose answer is being planned in a worker thread. */
typedef struct
{
  Routes *routes;
  SoupServerMessage *msg;
  NearbyBranch *branch;
  char *label;
  gboolean json; /* a commit page asked for as JSON */
  gboolean gone; /* the client hung up meanwhile */
  gulong finished_id;
} Planning;

static void
planning_free (Planning *planning)
{
  g_clear_signal_handler (&planning->finished_id, planning->msg);
  g_object_unref (planning->msg);
  nearby_branch_unref (planning->branch);
  g_free (planning->label);
  g_free (planning);
}

static void
on_planning_finished (SoupServerMessage *msg, gpointer user_data)
{
  ((Planning *) user_data)->gone = TRUE;
}

static void on_planned (GObject *source, GAsyncResult *result, gpointer user_data);

/* Plans the answer off the main loop, in one step, and sends it: a long
 * history or a heavy negotiation does not stall the other clients. */
static void
answer_upload_pack (Routes *routes, SoupServerMessage *msg, NearbyBranch *branch, GBytes *body,
                    gboolean v2, const char *label)
{
  Planning *planning = g_new0 (Planning, 1);

  planning->routes = routes;
  planning->msg = g_object_ref (msg);
  planning->branch = nearby_branch_ref (branch);
  planning->label = g_strdup (label);
  planning->finished_id
      = g_signal_connect (msg, "finished", G_CALLBACK (on_planning_finished), planning);
  soup_server_message_pause (msg);
  nearby_branch_plan_async (branch, v2, body, on_planned, planning);
}

static void
on_planned (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Planning *planning = user_data;
  SoupServerMessage *msg = planning->msg;
  g_autoptr (GError) error = NULL;
  NearbyPackPlan *plan = nearby_branch_plan_finish (result, &error);

  if (planning->gone)
    {
      g_clear_pointer (&plan, nearby_pack_plan_free);
      planning_free (planning);
      return;
    }
  if (plan == NULL)
    respond_unreadable (planning->branch, msg, error);
  else
    {
      if (plan->refusal != NULL)
        g_message ("%s: refused: %s", planning->label, plan->refusal);
      no_cache (msg);
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Content-Type",
                                    "application/x-git-upload-pack-result");
      if (plan->send_pack)
        nearby_pack_stream_start (msg, plan, planning->routes->cache,
                                  nearby_branch_gitdir (planning->branch), planning->label);
      else
        {
          soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_COPY,
                                    plan->preamble->data, plan->preamble->len);
          nearby_pack_plan_free (plan);
        }
    }
  soup_server_message_unpause (msg);
  planning_free (planning);
}

static void
on_commit_page (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Planning *planning = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) page = nearby_branch_work_finish (result, &error);

  if (!planning->gone)
    {
      if (page != NULL)
        respond (planning->msg, SOUP_STATUS_OK,
                 planning->json ? "application/json" : "text/html; charset=utf-8", page);
      else if (error == NULL)
        /* Not reachable from the tip, not a commit, or nothing: one answer. */
        respond_text (planning->msg, SOUP_STATUS_NOT_FOUND,
                      "git-nearby: no such commit on branch '%s'", planning->branch->name);
      else
        respond_unreadable (planning->branch, planning->msg, error);
      soup_server_message_unpause (planning->msg);
    }
  planning_free (planning);
}

/* /NAME/commit/ID, made in a worker thread: the reach set decides. */
static void
serve_commit_page (Routes *routes, SoupServerMessage *msg, NearbyBranch *branch, const char *id,
                   gboolean json)
{
  Planning *planning = g_new0 (Planning, 1);
  NearbyWebCommitRequest *request = g_new0 (NearbyWebCommitRequest, 1);

  request->name = g_strdup (branch->name);
  request->id = g_strdup (id);
  request->key = g_strdup (routes->who.key);
  request->owner = g_strdup (routes->who.owner);
  request->base_url = base_url (msg);
  request->json = json;
  planning->json = json;
  planning->routes = routes;
  planning->msg = g_object_ref (msg);
  planning->branch = nearby_branch_ref (branch);
  planning->finished_id
      = g_signal_connect (msg, "finished", G_CALLBACK (on_planning_finished), planning);
  soup_server_message_pause (msg);
  nearby_branch_work_async (branch, nearby_web_commit_page, request,
                            (GDestroyNotify) nearby_web_commit_request_free, on_commit_page,
                            planning);
}

/* A request for /nearby, held until the LAN has answered. */
typedef struct
{
  Routes *routes;
  SoupServerMessage *msg;
  gboolean json;
  gboolean gone; /* the client hung up meanwhile */
  gulong finished_id;
} LanRequest;

static void
on_lan_request_finished (SoupServerMessage *msg, gpointer user_data)
{
  ((LanRequest *) user_data)->gone = TRUE;
}

static void
on_lan_view (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LanRequest *request = user_data;
  g_autoptr (NearbyLanView) view = nearby_lan_watch_get_finish (request->routes->lan, result);

  if (!request->gone)
    {
      g_autoptr (GBytes) page = request->json
                                    ? nearby_lan_page_json (view, request->routes->who.key)
                                    : nearby_lan_page_html (view, request->routes->who.key);

      no_cache (request->msg);
      respond (request->msg, SOUP_STATUS_OK,
               request->json ? "application/json" : "text/html; charset=utf-8", page);
      soup_server_message_unpause (request->msg);
    }
  g_clear_signal_handler (&request->finished_id, request->msg);
  g_object_unref (request->msg);
  g_free (request);
}

/* /nearby: what the whole LAN advertises. The first request waits (paused,
 * the main loop free) for the first browse, at most a few seconds. */
static void
serve_lan_page (Routes *routes, SoupServerMessage *msg, gboolean json)
{
  LanRequest *request;

  if (routes->lan == NULL)
    {
      g_autoptr (GPtrArray) none = g_ptr_array_new ();
      NearbyLanView view
          = { .services = none,
              .error = "this server runs with --no-publish: it neither announces nor browses" };
      g_autoptr (GBytes) page = json ? nearby_lan_page_json (&view, routes->who.key)
                                     : nearby_lan_page_html (&view, routes->who.key);

      no_cache (msg);
      respond (msg, SOUP_STATUS_OK, json ? "application/json" : "text/html; charset=utf-8", page);
      return;
    }
  request = g_new0 (LanRequest, 1);
  request->routes = routes;
  request->msg = g_object_ref (msg);
  request->json = json;
  request->finished_id
      = g_signal_connect (msg, "finished", G_CALLBACK (on_lan_request_finished), request);
  soup_server_message_pause (msg);
  nearby_lan_watch_get_async (routes->lan, on_lan_view, request);
}

static gboolean
wants_json (SoupServerMessage *msg, GHashTable *query)
{
  const char *accept
      = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Accept");

  if (query != NULL && g_strcmp0 (g_hash_table_lookup (query, "format"), "json") == 0)
    return TRUE;
  return accept != NULL && strstr (accept, "application/json") != NULL
         && strstr (accept, "text/html") == NULL;
}

static void
handle_request (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  Routes *routes = user_data;
  NearbyCatalog *catalog = routes->catalog;
  const char *method = soup_server_message_get_method (msg);
  gsize len = strlen (path);
  g_autofree char *base = NULL;

  if (path[0] != '/')
    {
      respond_text (msg, SOUP_STATUS_BAD_REQUEST, "git-nearby: bad request path");
      return;
    }

  if (g_str_has_suffix (path, "/git-upload-pack"))
    {
      serve_upload_pack (routes, msg, path + 1, len - 1 - strlen ("/git-upload-pack"));
      return;
    }
  if (g_str_has_suffix (path, "/git-receive-pack"))
    {
      respond_text (msg, SOUP_STATUS_FORBIDDEN, "git-nearby is read-only: pushing is not possible");
      return;
    }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "git-nearby: method not allowed");
      return;
    }
  if (g_str_has_suffix (path, "/info/refs"))
    {
      serve_info_refs (catalog, msg, path + 1, len - 1 - strlen ("/info/refs"), query);
      return;
    }

  if (strcmp (path, "/") == 0)
    {
      gboolean json = wants_json (msg, query);
      g_autoptr (GBytes) page = NULL;

      base = base_url (msg);
      page = json ? nearby_web_index_json (catalog, &routes->who, base)
                  : nearby_web_index_html (catalog, &routes->who, base);

      respond (msg, SOUP_STATUS_OK, json ? "application/json" : "text/html; charset=utf-8", page);
      return;
    }

  /* /nearby exactly; a branch advertised as "nearby" is at /nearby/. */
  if (strcmp (path, "/nearby") == 0)
    {
      serve_lan_page (routes, msg, wants_json (msg, query));
      return;
    }

  /* A branch page: /<name> or /<name>/ */
  {
    g_autoptr (NearbyBranch) branch = NULL;
    g_autoptr (GBytes) page = NULL;
    gboolean json;

    const char *commit = g_strrstr (path, "/commit/");

    if (len > 1 && path[len - 1] == '/')
      len--;
    /* /NAME/commit/ID: a commit of the branch. */
    if (commit != NULL && commit > path && strlen (commit + 8) == GIT_OID_HEXSZ
        && strspn (commit + 8, "0123456789abcdef") == GIT_OID_HEXSZ)
      {
        if ((branch = lookup (catalog, msg, path + 1, commit - path - 1)) == NULL)
          return;
        serve_commit_page (routes, msg, branch, commit + 8, wants_json (msg, query));
        return;
      }
    if ((branch = lookup (catalog, msg, path + 1, len - 1)) == NULL)
      return;
    base = base_url (msg);
    json = wants_json (msg, query);
    page = json ? nearby_web_branch_json (branch, &routes->who, base)
                : nearby_web_branch_html (branch, &routes->who, base);
    if (page == NULL)
      respond_text (msg, SOUP_STATUS_NOT_FOUND, "git-nearby: branch '%s' is no longer here",
                    branch->name);
    else
      respond (msg, SOUP_STATUS_OK, json ? "application/json" : "text/html; charset=utf-8", page);
  }
}

SoupServer *
nearby_http_server_new (NearbyCatalog *catalog, NearbyPackCache *cache, const char *key,
                        const char *owner, gboolean browse)
{
  SoupServer *server = soup_server_new ("server-header", "git-nearby/" PACKAGE_VERSION " ", NULL);
  Routes *routes = g_new0 (Routes, 1);

  routes->catalog = g_object_ref (catalog);
  routes->cache = cache;
  routes->key = g_strdup (key);
  routes->owner = g_strdup (owner);
  routes->who.key = routes->key;
  routes->who.owner = routes->owner;
  routes->lan = browse ? nearby_lan_watch_new () : NULL;
  soup_server_add_handler (server, NULL, handle_request, routes, routes_free);
  return server;
}
