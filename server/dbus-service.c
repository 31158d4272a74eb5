#include "dbus-service.h"

#include "dbus-names.h"
#include "nearby-dbus.h"

struct _NearbyDBusService
{
  NearbyCatalog *catalog;
  GCancellable *cancellable;
  GDBusConnection *connection;
  NearbyServer1 *skeleton;
  guint owner_id;
  guint subscription_id;
  guint16 port;
  char *key;
  char *owner;
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

      if (!nearby_branch_resolve (branch, &target, FALSE, NULL))
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

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_debug ("owning %s on the session bus", name);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  g_debug ("%s belongs to another server on this session bus", name);
}

static void
on_bus_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NearbyDBusService *self = user_data;
  g_autoptr (GError) error = NULL;
  GDBusConnection *connection = g_bus_get_finish (result, &error);

  if (connection == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message (
            "no D-Bus session bus (%s); config edits are still noticed by watching the files",
            error->message);
      return;
    }
  self->connection = connection;

  self->subscription_id = g_dbus_connection_signal_subscribe (
      connection, NULL, NEARBY_DBUS_OPT_IN_INTERFACE, "Changed", NEARBY_DBUS_OPT_IN_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_opt_in_changed, self, NULL);

  self->skeleton = nearby_server1_skeleton_new ();
  nearby_server1_set_port (self->skeleton, self->port);
  nearby_server1_set_key (self->skeleton, self->key);
  nearby_server1_set_owner (self->skeleton, self->owner != NULL ? self->owner : "");
  g_signal_connect (self->skeleton, "handle-list", G_CALLBACK (on_handle_list), self);
  g_signal_connect (self->skeleton, "handle-rescan", G_CALLBACK (on_handle_rescan), self);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->skeleton), connection,
                                         NEARBY_DBUS_SERVER_PATH, &error))
    {
      g_warning ("cannot export %s on the session bus: %s", NEARBY_DBUS_SERVER_PATH,
                 error->message);
      return;
    }
  self->owner_id = g_bus_own_name_on_connection (connection, NEARBY_DBUS_SERVER_NAME,
                                                 G_BUS_NAME_OWNER_FLAGS_NONE, on_name_acquired,
                                                 on_name_lost, self, NULL);
}

NearbyDBusService *
nearby_dbus_service_new (NearbyCatalog *catalog, guint16 port, const char *key, const char *owner)
{
  NearbyDBusService *self = g_new0 (NearbyDBusService, 1);

  self->key = g_strdup (key);
  self->owner = g_strdup (owner);
  self->catalog = g_object_ref (catalog);
  self->port = port;
  self->cancellable = g_cancellable_new ();
  g_bus_get (G_BUS_TYPE_SESSION, self->cancellable, on_bus_ready, self);
  return self;
}

void
nearby_dbus_service_free (NearbyDBusService *self)
{
  if (self == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->owner_id, g_bus_unown_name);
  if (self->connection != NULL && self->subscription_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->subscription_id);
  if (self->skeleton != NULL)
    {
      g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->skeleton));
      g_clear_object (&self->skeleton);
    }
  g_clear_object (&self->connection);
  g_clear_object (&self->catalog);
  g_free (self->key);
  g_free (self->owner);
  g_free (self);
}
