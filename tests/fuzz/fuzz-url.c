/* libFuzzer harness: URLs (shared/url.c) — nearby://NAME[@WHO] and
 * nearby://KEY@HOST:PORT/NAME as users and git hand them to us, and the http:// URL built from an mDNS answer. The
 * input is a URL, or for the http part NUL-separated address, interface
 * and path. */
#include <gio/gio.h>

#include <string.h>

#include "fuzz-common.h"
#include "identity.h"
#include "name.h"
#include "url.h"

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_auto (GStrv) parts = fuzz_split (data, size, 3);
  g_auto (NearbyUrl) url = { 0 };
  g_autoptr (GError) error = NULL;

  if (nearby_url_parse (parts[0], &url, &error))
    {
      g_autofree char *path = NULL;
      g_autofree char *again = NULL;
      g_auto (NearbyUrl) url2 = { 0 };

      g_assert_no_error (error);
      g_assert (nearby_name_validate (url.name, NULL));
      g_assert (url.who == NULL || (*url.who != '\0' && g_utf8_validate (url.who, -1, NULL)));
      g_assert (url.who == NULL || url.key == NULL);
      /* Written back as a URL, it means the same branch from the same place. */
      path = nearby_name_to_path (url.name);
      if (url.key != NULL)
        {
          g_autofree char *key = nearby_key_to_url_form (url.key);
          g_autofree char *http = nearby_url_build ("http", url.host, url.ifname, url.port, path);
          g_autoptr (GUri) uri = NULL;

          g_assert (nearby_key_is_valid (url.key) && url.host != NULL && url.port > 0);
          if (url.ifname != NULL)
            again = g_strdup_printf ("nearby://%s@[%s%%25%s]:%u%s", key, url.host, url.ifname,
                                     url.port, path);
          else if (strchr (url.host, ':') != NULL)
            again = g_strdup_printf ("nearby://%s@[%s]:%u%s", key, url.host, url.port, path);
          else
            again = g_strdup_printf ("nearby://%s@%s:%u%s", key, url.host, url.port, path);
          /* What the helper hands git is a URL with that port and path. */
          uri = g_uri_parse (http, G_URI_FLAGS_NONE, NULL);
          g_assert (uri != NULL);
          g_assert_cmpint (g_uri_get_port (uri), ==, url.port);
        }
      else
        {
          g_autofree char *who
              = url.who != NULL ? g_uri_escape_string (url.who, NULL, FALSE) : NULL;

          again = g_strdup_printf ("nearby://%s%s%s", path + 1, who != NULL ? "@" : "",
                                   who != NULL ? who : "");
        }
      g_assert (nearby_url_parse (again, &url2, NULL));
      g_assert_cmpstr (url2.name, ==, url.name);
      g_assert_cmpstr (url2.who, ==, url.who);
      g_assert_cmpstr (url2.key, ==, url.key);
      g_assert_cmpstr (url2.host, ==, url.host);
      g_assert_cmpstr (url2.ifname, ==, url.ifname);
      g_assert_cmpuint (url2.port, ==, url.port);
    }
  else
    {
      g_assert (error != NULL && url.name == NULL && url.who == NULL && url.key == NULL
                && url.host == NULL);
      fuzz_check_text (error->message);
    }

  g_clear_error (&error);
  /* An address from the network: the URL built from it points at that
   * address, or the address is refused first. */
  {
    const char *address = parts[0];
    const char *ifname = parts[1];
    guint16 port = 1 + (size >= 2 ? (data[0] << 8 | data[1]) % 65535 : 9418);
    g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address);

    (void) nearby_url_is_link_local (address);
    if (nearby_url_address_is_usable (address))
      {
        g_autofree char *built = NULL;
        g_autoptr (GUri) uri = NULL;

        g_assert (inet != NULL);
        g_assert (!g_inet_address_get_is_loopback (inet) && !g_inet_address_get_is_any (inet)
                  && !g_inet_address_get_is_multicast (inet));
        /* An interface name as the kernel allows them. */
        if (ifname != NULL
            && strspn (ifname, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen (ifname))
          ifname = NULL;
        built = nearby_url_build_http (address, ifname, port, "/p/main");
        uri = g_uri_parse (built, G_URI_FLAGS_NONE, &error);
        g_assert_no_error (error);
        g_assert_cmpint (g_uri_get_port (uri), ==, port);
        g_assert_cmpstr (g_uri_get_path (uri), ==, "/p/main");
        if (!nearby_url_is_link_local (address))
          {
            g_autoptr (GInetAddress) back = g_inet_address_new_from_string (g_uri_get_host (uri));

            g_assert (back != NULL && g_inet_address_equal (back, inet));
          }
      }
  }
  return 0;
}
