#include "dbus-service.h"

#include "branch-jobs.h"
#include "dbus-names.h"
#include "name.h"
#include "nearby-dbus.h"
#include "nearby-error.h"
#include "publisher.h"
#include "untrusted.h"

#define CALL_TIMEOUT_MS 2000

struct _NearbyDBusService
{
  NearbyCatalog *catalog;
  GDBusConnection *connection;
  GCancellable *cancellable;
  NearbyServer1 *skeleton;
  gboolean publishing;
  NearbyPublisher *publisher; /* not owned; NULL until listening, and with --no-publish */
  gboolean owns_name;
  guint subscription_id;
  guint name_lost_id;
  guint owner_changed_id;
  char *base_url; /* "http://alice.local:9419/" */
};

static gboolean
on_handle_list (NearbyServer1 *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
  NearbyDBusService *self = user_data;
  g_autoptr (GPtrArray) branches = nearby_catalog_list (self->catalog);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ssss)"));
  for (guint i = 0; i < branches->len; i++)
    {
      NearbyBranch *branch = branches->pdata[i];
      g_auto (NearbyUploadTarget) target = { 0 };
      char hex[GIT_OID_HEXSZ + 1] = "";

      if (!nearby_branch_resolve (branch, &target, NULL))
        continue;
      if (!target.unborn)
        git_oid_tostr (hex, sizeof hex, &target.tip);
      g_variant_builder_add (&builder, "(ssss)", branch->name, branch->branch, hex,
                             nearby_branch_gitdir (branch));
    }
  nearby_server1_complete_list (skeleton, invocation, g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_rescan (NearbyServer1 *skeleton, GDBusMethodInvocation *invocation, gpointer user_data)
{
  NearbyDBusService *self = user_data;

  g_message ("D-Bus Rescan: looking for repositories and opt-ins again");
  nearby_catalog_rescan (self->catalog);
  nearby_server1_complete_rescan (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
on_handle_explain (NearbyServer1 *skeleton, GDBusMethodInvocation *invocation,
                   const char *repository, const char *branch, gpointer user_data)
{
  NearbyDBusService *self = user_data;
  g_auto (GVariantDict) details;
  const char *verdict;

  g_variant_dict_init (&details, NULL);
  if (!g_path_is_absolute (repository))
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                             "the repository must be an absolute path");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  verdict = nearby_catalog_explain (self->catalog, repository, branch, &details);
  if (g_str_equal (verdict, "served"))
    {
      const char *name = NULL;
      g_autofree char *path = NULL;
      g_autofree char *url = NULL;
      const char *why_not = "no-publish";

      g_variant_dict_lookup (&details, "name", "&s", &name);
      if (self->publisher != NULL)
        why_not = nearby_publisher_why_not_announced (self->publisher, name);
      path = nearby_name_to_path (name);
      url = g_strconcat (self->base_url, path + 1, NULL);
      g_variant_dict_insert (&details, "url", "s", url);
      g_variant_dict_insert (&details, "announced", "b", why_not == NULL);
      if (why_not != NULL)
        g_variant_dict_insert (&details, "not-announced", "s", why_not);
    }
  g_debug ("D-Bus Explain %s branch %s: %s", repository, branch, verdict);
  nearby_server1_complete_explain (skeleton, invocation, verdict, g_variant_dict_end (&details));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Handled here, synchronously: a client that emits Changed and then calls
 * Explain on the same connection gets an answer that has seen the change. */
static void
on_opt_in_changed (GDBusConnection *connection, const char *sender, const char *path,
                   const char *interface, const char *signal, GVariant *parameters,
                   gpointer user_data)
{
  NearbyDBusService *self = user_data;
  const char *repository;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(s)")))
    return;
  g_variant_get (parameters, "(&s)", &repository);
  nearby_catalog_notice_repository (self->catalog, repository);
}

static void watch_owner (NearbyDBusService *self);

static void
on_name_lost (GDBusConnection *connection, const char *sender, const char *path,
              const char *interface, const char *signal, GVariant *parameters, gpointer user_data)
{
  NearbyDBusService *self = user_data;

  if (!self->owns_name)
    return;
  self->owns_name = FALSE;
  watch_owner (self);
  g_message ("a server that announces on the LAN took %s; this one keeps serving, "
             "without announcing, and advertise asks that one",
             NEARBY_DBUS_SERVER_NAME);
}

static void
on_request_name_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NearbyDBusService *self = user_data;
  g_autoptr (GVariant) reply
      = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, NULL);
  guint32 code = 0;

  if (reply != NULL)
    g_variant_get (reply, "(u)", &code);
  if (code == NEARBY_DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER)
    {
      self->owns_name = TRUE;
      g_message ("the other server in this session stopped; this one now answers advertise");
    }
}

/* A server without the name takes it once the owner has gone, so that
 * advertise keeps finding someone to ask. */
static void
on_name_owner_changed (GDBusConnection *connection, const char *sender, const char *path,
                       const char *interface, const char *signal, GVariant *parameters,
                       gpointer user_data)
{
  NearbyDBusService *self = user_data;
  const char *name, *old_owner, *new_owner;

  if (self->owns_name || !g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sss)")))
    return;
  g_variant_get (parameters, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (*new_owner != '\0')
    return;
  g_dbus_connection_call (
      connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "RequestName",
      g_variant_new ("(su)", NEARBY_DBUS_SERVER_NAME,
                     NEARBY_DBUS_NAME_FLAG_DO_NOT_QUEUE | NEARBY_DBUS_NAME_FLAG_ALLOW_REPLACEMENT),
      G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, self->cancellable,
      on_request_name_done, self);
}

static void
watch_owner (NearbyDBusService *self)
{
  if (self->owner_changed_id != 0)
    return;
  self->owner_changed_id = g_dbus_connection_signal_subscribe (
      self->connection, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
      "/org/freedesktop/DBus", NEARBY_DBUS_SERVER_NAME, G_DBUS_SIGNAL_FLAGS_NONE,
      on_name_owner_changed, self, NULL);
}

static GVariant *
call_bus (GDBusConnection *connection, const char *method, GVariant *args, const char *type)
{
  return g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                      "org.freedesktop.DBus", method, args, G_VARIANT_TYPE (type),
                                      G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, NULL);
}

/* "pid 1234, port 9419, serving /home/alice/src": what the running server
 * says of itself, as far as it answers. */
static char *
describe_owner (GDBusConnection *connection, guint32 *pid_out)
{
  g_autoptr (GVariant) owner = call_bus (connection, "GetNameOwner",
                                         g_variant_new ("(s)", NEARBY_DBUS_SERVER_NAME), "(s)");
  g_autoptr (GVariant) pid = NULL;
  g_autoptr (GVariant) properties = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  const char *unique;
  guint16 port = 0;
  g_autofree const char **directories = NULL;

  *pid_out = 0;
  if (owner == NULL)
    return NULL;
  g_variant_get (owner, "(&s)", &unique);
  pid = call_bus (connection, "GetConnectionUnixProcessID", g_variant_new ("(s)", unique), "(u)");
  if (pid != NULL)
    {
      g_variant_get (pid, "(u)", pid_out);
      g_string_append_printf (text, "pid %u", *pid_out);
    }
  properties = g_dbus_connection_call_sync (
      connection, unique, NEARBY_DBUS_SERVER_PATH, "org.freedesktop.DBus.Properties", "GetAll",
      g_variant_new ("(s)", NEARBY_DBUS_SERVER_NAME), G_VARIANT_TYPE ("(a{sv})"),
      G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, NULL);
  if (properties != NULL)
    {
      g_autoptr (GVariant) dict = g_variant_get_child_value (properties, 0);

      if (g_variant_lookup (dict, "Port", "q", &port) && port != 0)
        g_string_append_printf (text, "%sport %u", text->len > 0 ? ", " : "", port);
      if (g_variant_lookup (dict, "Directories", "^a&s", &directories) && directories[0] != NULL)
        {
          g_string_append_printf (text, "%sserving ", text->len > 0 ? ", " : "");
          for (guint i = 0; directories[i] != NULL; i++)
            {
              g_autofree char *escaped = nearby_untrusted_escape (directories[i]);

              g_string_append_printf (text, "%s%s", i > 0 ? ", " : "", escaped);
            }
        }
    }
  return text->len > 0 ? g_string_free (g_steal_pointer (&text), FALSE) : NULL;
}

/* One publishing server per session: it asks for the name without queueing
 * and without allowing replacement, so of two starting at once one gets it
 * and the other hears EXISTS. A --no-publish server announces nothing, so
 * it may run beside one; it takes the name only while it is free and lets a
 * publishing server replace it. */
static gboolean
own_name (NearbyDBusService *self, GError **error)
{
  guint32 flags = NEARBY_DBUS_NAME_FLAG_DO_NOT_QUEUE
                  | (self->publishing ? NEARBY_DBUS_NAME_FLAG_REPLACE_EXISTING
                                      : NEARBY_DBUS_NAME_FLAG_ALLOW_REPLACEMENT);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autofree char *running = NULL;
  guint32 result = 0, pid = 0;

  reply = g_dbus_connection_call_sync (
      self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "RequestName", g_variant_new ("(su)", NEARBY_DBUS_SERVER_NAME, flags), G_VARIANT_TYPE ("(u)"),
      G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &local_error);
  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (local_error);
      g_warning ("cannot own %s on the session bus (%s): advertise cannot ask this server",
                 NEARBY_DBUS_SERVER_NAME, local_error->message);
      return TRUE;
    }
  g_variant_get (reply, "(u)", &result);
  if (result == NEARBY_DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
      || result == NEARBY_DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER)
    {
      self->owns_name = TRUE;
      g_debug ("owning %s on the session bus", NEARBY_DBUS_SERVER_NAME);
      return TRUE;
    }

  running = describe_owner (self->connection, &pid);
  if (!self->publishing)
    {
      watch_owner (self);
      g_message ("another server runs in this session (%s); this one serves beside it, "
                 "announces nothing, and advertise asks that one",
                 running != NULL ? running : "it did not say more");
      return TRUE;
    }
  if (pid != 0)
    g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_EXISTS,
                 "a server is already running in this session (%s); stop it first (kill %u), "
                 "or run this one with --no-publish to serve without announcing",
                 running, pid);
  else
    g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_EXISTS,
                 "a server is already running in this session (%s); stop it first, "
                 "or run this one with --no-publish to serve without announcing",
                 running != NULL ? running : "it did not say which");
  return FALSE;
}

NearbyDBusService *
nearby_dbus_service_new (NearbyCatalog *catalog, const char *const *directories,
                         gboolean publishing, const char *owner, GError **error)
{
  g_autoptr (NearbyDBusService) self = g_new0 (NearbyDBusService, 1);
  g_autoptr (GError) local_error = NULL;

  self->catalog = g_object_ref (catalog);
  self->publishing = publishing;
  self->cancellable = g_cancellable_new ();
  self->base_url = g_strdup ("http://localhost/");
  self->connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &local_error);
  if (self->connection == NULL)
    {
      g_message ("no D-Bus session bus (%s): not checking for another server in this session; "
                 "config edits are still noticed by watching the files",
                 local_error->message);
      return g_steal_pointer (&self);
    }

  self->subscription_id = g_dbus_connection_signal_subscribe (
      self->connection, NULL, NEARBY_DBUS_OPT_IN_INTERFACE, "Changed", NEARBY_DBUS_OPT_IN_PATH,
      NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_opt_in_changed, self, NULL);
  self->name_lost_id = g_dbus_connection_signal_subscribe (
      self->connection, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameLost",
      "/org/freedesktop/DBus", NEARBY_DBUS_SERVER_NAME, G_DBUS_SIGNAL_FLAGS_NONE, on_name_lost,
      self, NULL);

  /* Exported before the name is ours, so that whoever sees the name finds
   * the object; Port and Key stay 0 and "" until it listens. */
  self->skeleton = nearby_server1_skeleton_new ();
  nearby_server1_set_key (self->skeleton, "");
  nearby_server1_set_owner (self->skeleton, owner != NULL ? owner : "");
  nearby_server1_set_directories (self->skeleton, directories);
  nearby_server1_set_publishing (self->skeleton, publishing);
  g_signal_connect (self->skeleton, "handle-list", G_CALLBACK (on_handle_list), self);
  g_signal_connect (self->skeleton, "handle-rescan", G_CALLBACK (on_handle_rescan), self);
  g_signal_connect (self->skeleton, "handle-explain", G_CALLBACK (on_handle_explain), self);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->skeleton),
                                         self->connection, NEARBY_DBUS_SERVER_PATH, &local_error))
    {
      g_warning ("cannot export %s on the session bus: %s", NEARBY_DBUS_SERVER_PATH,
                 local_error->message);
      return g_steal_pointer (&self);
    }
  if (!own_name (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

void
nearby_dbus_service_set_listening (NearbyDBusService *self, guint16 port, const char *base_url,
                                   const char *key)
{
  g_free (self->base_url);
  self->base_url = g_strdup (base_url);
  if (self->skeleton == NULL)
    return;
  nearby_server1_set_port (self->skeleton, port);
  nearby_server1_set_key (self->skeleton, key);
}

void
nearby_dbus_service_set_publisher (NearbyDBusService *self, NearbyPublisher *publisher)
{
  self->publisher = publisher;
}

void
nearby_dbus_service_free (NearbyDBusService *self)
{
  if (self == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->connection != NULL && self->owns_name)
    {
      g_autoptr (GVariant) reply = call_bus (self->connection, "ReleaseName",
                                             g_variant_new ("(s)", NEARBY_DBUS_SERVER_NAME), "(u)");
    }
  if (self->connection != NULL && self->subscription_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->subscription_id);
  if (self->connection != NULL && self->name_lost_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->name_lost_id);
  if (self->connection != NULL && self->owner_changed_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->owner_changed_id);
  if (self->skeleton != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->skeleton, self);
      if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (self->skeleton)))
        g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
      g_clear_object (&self->skeleton);
    }
  g_clear_object (&self->connection);
  g_clear_object (&self->catalog);
  g_free (self->base_url);
  g_free (self);
}
