#include "url.h"

#include <gio/gio.h>
#include <net/if.h>
#include <stdarg.h>
#include <string.h>

#include "identity.h"
#include "name.h"
#include "nearby-error.h"
#include "untrusted.h"

void
nearby_url_clear (NearbyUrl *url)
{
  g_clear_pointer (&url->name, g_free);
  g_clear_pointer (&url->who, g_free);
  g_clear_pointer (&url->key, g_free);
  g_clear_pointer (&url->host, g_free);
  g_clear_pointer (&url->ifname, g_free);
  url->port = 0;
}

/* Fails with "'<url, escaped>'<what>": one line, whatever the URL holds. A
 * URL can come from a cloned repository's .gitmodules. */
G_GNUC_PRINTF (3, 4)
static gboolean
fail (GError **error, const char *url, const char *format, ...)
{
  g_autofree char *shown = nearby_untrusted_escape (url);
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "'%s'%s", shown, what);
  return FALSE;
}

static gboolean
parse_name (const char *url, const char *raw, NearbyUrl *out, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  out->name = nearby_name_from_path (raw, strlen (raw), &local_error);
  if (out->name == NULL)
    return fail (error, url, " does not name a branch: %s", local_error->message);
  return TRUE;
}

/* WHO as typed, percent-decoded: an owner name may have spaces. */
static gboolean
parse_who (const char *url, const char *raw, NearbyUrl *out, GError **error)
{
  g_autofree char *who = g_uri_unescape_string (raw, NULL);

  if (who == NULL || *who == '\0' || !g_utf8_validate (who, -1, NULL))
    return fail (error, url, ": expected NAME@HOST; write an '@' inside a name as %%40");
  for (const char *c = who; *c != '\0'; c = g_utf8_next_char (c))
    if (g_unichar_iscntrl (g_utf8_get_char (c)))
      return fail (error, url, ": WHO holds a control character");
  out->who = g_steal_pointer (&who);
  return TRUE;
}

static gboolean
is_host_name (const char *host)
{
  gsize len = strlen (host);

  if (len == 0 || len > 253 || host[0] == '-' || host[0] == '.')
    return FALSE;
  return strspn (host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == len;
}

/* "HOST:PORT", "[v6]:PORT" or "[fe80::1%25eth0]:PORT" of a direct URL. */
static gboolean
parse_authority (const char *url, const char *authority, NearbyUrl *out, GError **error)
{
  g_autofree char *host = NULL;
  const char *port;
  guint64 number = 0;

  if (authority[0] == '[')
    {
      const char *close = strchr (authority, ']');
      const char *zone;
      g_autoptr (GInetAddress) inet = NULL;

      if (close == NULL)
        return fail (error, url, ": no ']' after the IPv6 address");
      host = g_strndup (authority + 1, close - authority - 1);
      zone = strstr (host, "%25");
      if (zone != NULL)
        {
          const char *ifname = zone + strlen ("%25");

          if (*ifname == '\0' || strlen (ifname) >= IF_NAMESIZE
              || strspn (ifname,
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
                     != strlen (ifname))
            return fail (error, url, ": the zone after %%25 is not an interface name");
          out->ifname = g_strdup (ifname);
          host[zone - host] = '\0';
        }
      inet = g_inet_address_new_from_string (host);
      if (inet == NULL || g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV6)
        return fail (error, url, ": not an IPv6 address in brackets");
      port = close + 1;
    }
  else
    {
      const char *colon = strrchr (authority, ':');

      if (colon == NULL)
        return fail (error, url, ": no port: a direct URL is nearby://KEY@HOST:PORT/NAME");
      host = g_strndup (authority, colon - authority);
      if (strchr (host, ':') != NULL)
        return fail (error, url, ": write an IPv6 address in brackets: [ADDRESS]:PORT");
      if (!is_host_name (host))
        return fail (error, url, ": not an address or a host name before the port");
      port = colon;
    }
  if (*port != ':' || port[1] == '\0')
    return fail (error, url, ": no port: a direct URL is nearby://KEY@HOST:PORT/NAME");
  port++;
  if (strlen (port) > 5 || strspn (port, "0123456789") != strlen (port)
      || (number = g_ascii_strtoull (port, NULL, 10)) == 0 || number > 65535)
    return fail (error, url, ": the port is not a number from 1 to 65535");
  out->host = g_steal_pointer (&host);
  out->port = (guint16) number;
  return TRUE;
}

/* nearby://KEY@HOST:PORT/NAME, @rest without "nearby://" and trailing '/'. */
static gboolean
parse_direct (const char *url, const char *rest, NearbyUrl *out, GError **error)
{
  const char *at = strchr (rest, '@');
  const char *slash = strchr (at, '/');
  g_autofree char *key = g_strndup (rest, at - rest);
  g_autofree char *authority
      = slash != NULL ? g_strndup (at + 1, slash - at - 1) : g_strdup (at + 1);

  out->key = nearby_key_from_url_form (key);
  if (out->key == NULL)
    return fail (error, url,
                 ": the part before '@' is not a key: nearby://KEY@HOST:PORT/NAME takes the "
                 "43-character URL form of the server's key (see 'git nearby id')");
  if (!parse_authority (url, authority, out, error))
    return FALSE;
  return parse_name (url, slash != NULL ? slash + 1 : "", out, error);
}

gboolean
nearby_url_parse (const char *url, NearbyUrl *out, GError **error)
{
  const char *rest = url;
  g_autofree char *text = NULL;
  const char *at;
  gboolean ok;

  memset (out, 0, sizeof *out);
  if (g_str_has_prefix (rest, "nearby://"))
    rest += strlen ("nearby://");
  else if (strstr (rest, "://") != NULL)
    return fail (error, url, " is not a nearby:// URL");

  /* git may hand us a trailing slash. */
  text = g_strdup (rest);
  while (strlen (text) > 1 && g_str_has_suffix (text, "/"))
    text[strlen (text) - 1] = '\0';

  /* A name never holds a raw '@', a WHO never a '/' or (unencoded) ':';
   * what has them after its first '@' is a direct URL. */
  at = strchr (text, '@');
  if (at != NULL && (strchr (at, '/') != NULL || (strchr (at, ':') != NULL && at - text >= 43)))
    ok = parse_direct (url, text, out, error);
  else if (at != NULL)
    {
      const char *last = strrchr (text, '@');
      g_autofree char *name = g_strndup (text, last - text);

      ok = parse_who (url, last + 1, out, error) && parse_name (url, name, out, error);
    }
  else
    ok = parse_name (url, text, out, error);
  if (!ok)
    nearby_url_clear (out);
  return ok;
}

gboolean
nearby_url_is_link_local (const char *address)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address);

  /* IPv6 only: an IPv4 link-local address (169.254/16) takes no zone. */
  return inet != NULL && g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6
         && g_inet_address_get_is_link_local (inet);
}

static char *
build (const char *scheme, const char *userinfo, const char *address, const char *ifname,
       guint16 port, const char *path)
{
  g_autofree char *host = NULL;

  /* GUri puts an IPv6 address in brackets and writes its zone's '%' as
   * %25 (RFC 6874); @path is already percent-encoded. */
  if (ifname != NULL && *ifname != '\0' && nearby_url_is_link_local (address))
    host = g_strdup_printf ("%s%%%s", address, ifname);
  return g_uri_join (G_URI_FLAGS_ENCODED_PATH | G_URI_FLAGS_NON_DNS, scheme, userinfo,
                     host != NULL ? host : address, port, path, NULL, NULL);
}

char *
nearby_url_build (const char *scheme, const char *address, const char *ifname, guint16 port,
                  const char *path)
{
  return build (scheme, NULL, address, ifname, port, path);
}

char *
nearby_url_build_direct (const char *key_url_form, const char *address, const char *ifname,
                         guint16 port, const char *path)
{
  return build ("nearby", key_url_form, address, ifname, port, path);
}

char *
nearby_url_build_http (const char *address, const char *ifname, guint16 port, const char *path)
{
  return nearby_url_build ("http", address, ifname, port, path);
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

char *
nearby_clone_line (const char *name, const char *key)
{
  g_autofree char *path = nearby_name_to_path (name);
  g_autofree char *url_form = nearby_key_to_url_form (key);
  const char *last = strrchr (name, '/') != NULL ? strrchr (name, '/') + 1 : name;
  gboolean plain = *last != '\0';
  g_autofree char *dir = NULL;

  for (const char *p = last; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("-._+,:=", *p) == NULL)
      plain = FALSE;
  dir = plain ? g_strdup (last) : g_shell_quote (*last != '\0' ? last : name);
  /* A name is anyone's on the LAN page: a DIR of "--config=core.fsmonitor=x"
   * would be an option to git clone, and "./" makes it a path. */
  if (*last == '-')
    {
      g_autofree char *option_like = g_steal_pointer (&dir);

      dir = g_strconcat ("./", option_like, NULL);
    }
  return g_strdup_printf ("git clone nearby://%s@%s %s", path + 1, url_form, dir);
}
