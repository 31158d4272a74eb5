#include "url.h"

#include <gio/gio.h>
#include <string.h>

#include "name.h"
#include "nearby-error.h"
#include "untrusted.h"

gboolean
nearby_url_parse_nearby (const char *url, char **name, char **host, GError **error)
{
  const char *rest = url;
  const char *at;
  g_autofree char *raw_name = NULL;
  g_autofree char *decoded = NULL;
  g_autoptr (GError) local_error = NULL;
  /* A URL can come from a cloned repository's .gitmodules: messages show it
   * escaped. */
  g_autofree char *shown = nearby_untrusted_escape (url);

  *name = NULL;
  *host = NULL;
  if (g_str_has_prefix (rest, "nearby://"))
    rest += strlen ("nearby://");
  else if (strstr (rest, "://") != NULL)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "'%s' is not a nearby:// URL", shown);
      return FALSE;
    }

  /* git may hand us a trailing slash. */
  raw_name = g_strdup (rest);
  while (strlen (raw_name) > 1 && g_str_has_suffix (raw_name, "/"))
    raw_name[strlen (raw_name) - 1] = '\0';

  at = strrchr (raw_name, '@');
  if (at != NULL)
    {
      if (at[1] == '\0' || strchr (at + 1, '/') != NULL)
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                       "'%s': expected NAME@HOST; write an '@' inside a name as %%40", shown);
          return FALSE;
        }
      *host = g_strdup (at + 1);
      raw_name[at - raw_name] = '\0';
    }

  decoded = nearby_name_from_path (raw_name, strlen (raw_name), &local_error);
  if (decoded == NULL)
    {
      g_clear_pointer (host, g_free);
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "'%s' does not name a branch: %s",
                   shown, local_error->message);
      return FALSE;
    }
  *name = g_steal_pointer (&decoded);
  return TRUE;
}

gboolean
nearby_url_is_link_local (const char *address)
{
  return g_ascii_strncasecmp (address, "fe8", 3) == 0
         || g_ascii_strncasecmp (address, "fe9", 3) == 0
         || g_ascii_strncasecmp (address, "fea", 3) == 0
         || g_ascii_strncasecmp (address, "feb", 3) == 0;
}

char *
nearby_url_build_http (const char *address, const char *ifname, guint16 port, const char *path)
{
  if (strchr (address, ':') == NULL)
    return g_strdup_printf ("http://%s:%u%s", address, port, path);
  if (ifname != NULL && *ifname != '\0' && nearby_url_is_link_local (address))
    return g_strdup_printf ("http://[%s%%25%s]:%u%s", address, ifname, port, path);
  return g_strdup_printf ("http://[%s]:%u%s", address, port, path);
}

gboolean
nearby_url_address_is_usable (const char *address)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address);
  const guint8 *bytes;

  if (inet == NULL)
    return FALSE;
  if (g_inet_address_get_is_loopback (inet) || g_inet_address_get_is_any (inet)
      || g_inet_address_get_is_multicast (inet))
    return FALSE;
  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV4)
    return g_inet_address_to_bytes (inet)[0] != 0; /* 0.0.0.0/8: "this network" */
  /* ::ffff:127.0.0.1 and ::127.0.0.1 reach the same loopback. */
  bytes = g_inet_address_to_bytes (inet);
  for (int i = 0; i < 10; i++)
    if (bytes[i] != 0)
      return TRUE;
  if ((bytes[10] == 0xff && bytes[11] == 0xff) || (bytes[10] == 0 && bytes[11] == 0))
    return bytes[12] != 127 && bytes[12] != 0;
  return TRUE;
}
