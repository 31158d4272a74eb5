#include "config.h"

#include "http-server.h"

#include <string.h>

#include "name.h"
#include "nearby-error.h"
#include "pack-stream.h"
#include "upload-pack.h"
#include "web-page.h"

typedef struct
{
  NearbyCatalog *catalog;
  NearbyPackCache *cache;
  char *key;
  char *owner;
  NearbyWebIdentity who; /* of the two above */
} Routes;

static void
routes_free (gpointer data)
{
  Routes *routes = data;

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

static char *
base_url (SoupServerMessage *msg)
{
  const char *host
      = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Host");
  GUri *uri = soup_server_message_get_uri (msg);

  if (host != NULL && *host != '\0' && strpbrk (host, " \"<>/\\") == NULL)
    return g_strconcat ("http://", host, NULL);
  return g_strdup_printf ("http://%s:%d", g_uri_get_host (uri), g_uri_get_port (uri));
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

static gboolean
resolve (NearbyBranch *branch, SoupServerMessage *msg, NearbyUploadTarget *target,
         gboolean with_reach)
{
  g_autoptr (GError) error = NULL;

  if (nearby_branch_resolve (branch, target, with_reach, &error))
    return TRUE;
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
  if ((branch = lookup (catalog, msg, name_path, len)) == NULL
      || !resolve (branch, msg, &target, FALSE))
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
                                GBytes *body, gboolean v2, const char *label, guint attempt);

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
  answer_upload_pack (routes, msg, branch, body, v2, label, 0);
}

typedef struct
{
  Routes *routes;
  SoupServerMessage *msg;
  NearbyBranch *branch;
  GBytes *body;
  gboolean v2;
  char *label;
  guint attempt;
  gboolean gone; /* the client hung up meanwhile */
  gulong finished_id;
} PendingWalk;

static void
pending_walk_free (PendingWalk *pending)
{
  g_clear_signal_handler (&pending->finished_id, pending->msg);
  g_object_unref (pending->msg);
  nearby_branch_unref (pending->branch);
  g_bytes_unref (pending->body);
  g_free (pending->label);
  g_free (pending);
}

static void on_walked (GObject *source, GAsyncResult *result, gpointer user_data);

static void
on_pending_finished (SoupServerMessage *msg, gpointer user_data)
{
  ((PendingWalk *) user_data)->gone = TRUE;
}

/* Plans the answer and sends it. A plan that needed a reach set not yet
 * walked is thrown away: the walk runs in a worker thread, so that a long
 * history does not stall every other client, and the plan is made again. */
static void
answer_upload_pack (Routes *routes, SoupServerMessage *msg, NearbyBranch *branch, GBytes *body,
                    gboolean v2, const char *label, guint attempt)
{
  g_auto (NearbyUploadTarget) target = { 0 };
  NearbyPackPlan *plan;

  if (!resolve (branch, msg, &target, TRUE))
    {
      if (attempt > 0)
        soup_server_message_unpause (msg);
      return;
    }
  plan = nearby_upload_pack_plan (&target, v2, g_bytes_get_data (body, NULL),
                                  g_bytes_get_size (body));
  if (target.reach_missing && attempt < 3)
    {
      PendingWalk *pending = g_new0 (PendingWalk, 1);

      nearby_pack_plan_free (plan);
      pending->routes = routes;
      pending->msg = g_object_ref (msg);
      pending->branch = nearby_branch_ref (branch);
      pending->body = g_bytes_ref (body);
      pending->v2 = v2;
      pending->label = g_strdup (label);
      pending->attempt = attempt + 1;
      pending->finished_id
          = g_signal_connect (msg, "finished", G_CALLBACK (on_pending_finished), pending);
      if (attempt == 0)
        soup_server_message_pause (msg);
      g_debug ("%s: walking the history of %s first", label, git_oid_tostr_s (&target.tip));
      nearby_branch_walk_async (branch, &target.tip, NULL, on_walked, pending);
      return;
    }
  if (plan->refusal != NULL)
    g_message ("%s: refused: %s", label, plan->refusal);

  no_cache (msg);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Content-Type",
                                "application/x-git-upload-pack-result");
  if (plan->send_pack)
    nearby_pack_stream_start (msg, plan, routes->cache, nearby_branch_gitdir (branch), label);
  else
    {
      soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_COPY,
                                plan->preamble->data, plan->preamble->len);
      nearby_pack_plan_free (plan);
    }
  if (attempt > 0)
    soup_server_message_unpause (msg);
}

static void
on_walked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PendingWalk *pending = user_data;
  g_autoptr (GError) error = NULL;

  if (!nearby_branch_walk_finish (pending->branch, result, &error))
    {
      g_warning ("%s: cannot walk the history: %s", pending->label, error->message);
      if (!pending->gone)
        {
          respond_text (pending->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                        "git-nearby: cannot read branch '%s'", pending->branch->name);
          soup_server_message_unpause (pending->msg);
        }
    }
  else if (!pending->gone)
    answer_upload_pack (pending->routes, pending->msg, pending->branch, pending->body, pending->v2,
                        pending->label, pending->attempt);
  pending_walk_free (pending);
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

  /* A branch page: /<name> or /<name>/ */
  {
    g_autoptr (NearbyBranch) branch = NULL;
    g_autoptr (GBytes) page = NULL;

    if (len > 1 && path[len - 1] == '/')
      len--;
    if ((branch = lookup (catalog, msg, path + 1, len - 1)) == NULL)
      return;
    base = base_url (msg);
    page = nearby_web_branch_html (branch, &routes->who, base);
    if (page == NULL)
      respond_text (msg, SOUP_STATUS_NOT_FOUND, "git-nearby: branch '%s' is no longer here",
                    branch->name);
    else
      respond (msg, SOUP_STATUS_OK, "text/html; charset=utf-8", page);
  }
}

SoupServer *
nearby_http_server_new (NearbyCatalog *catalog, NearbyPackCache *cache, const char *key,
                        const char *owner)
{
  SoupServer *server = soup_server_new ("server-header", "git-nearby/" PACKAGE_VERSION " ", NULL);
  Routes *routes = g_new0 (Routes, 1);

  routes->catalog = g_object_ref (catalog);
  routes->cache = cache;
  routes->key = g_strdup (key);
  routes->owner = g_strdup (owner);
  routes->who.key = routes->key;
  routes->who.owner = routes->owner;
  soup_server_add_handler (server, NULL, handle_request, routes, routes_free);
  return server;
}
