/* libFuzzer harness: URLs (shared/url.c) — nearby://NAME[@HOST] as users
 * and git hand it to us, and the http:// URL built from an mDNS answer. The
 * input is a URL, or for the http part NUL-separated address, interface
 * and path. */
#include <gio/gio.h>

#include "fuzz-common.h"
#include "name.h"
#include "url.h"

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_auto (GStrv) parts = fuzz_split (data, size, 3);
  g_autofree char *name = NULL;
  g_autofree char *host = NULL;
  g_autoptr (GError) error = NULL;

  if (nearby_url_parse_nearby (parts[0], &name, &host, &error))
    {
      g_autofree char *path = NULL;
      g_autofree char *again = NULL;
      g_autofree char *name2 = NULL;
      g_autofree char *host2 = NULL;

      g_assert_no_error (error);
      g_assert (nearby_name_validate (name, NULL));
      g_assert (host == NULL || (*host != '\0' && strchr (host, '/') == NULL));
      /* Written back as a URL, it means the same branch. */
      path = nearby_name_to_path (name);
      again = g_strdup_printf ("nearby://%s%s%s", path + 1, host != NULL ? "@" : "",
                               host != NULL ? host : "");
      g_assert (nearby_url_parse_nearby (again, &name2, &host2, NULL));
      g_assert_cmpstr (name2, ==, name);
      g_assert_cmpstr (host2, ==, host);
    }
  else
    {
      g_assert (error != NULL && name == NULL && host == NULL);
      fuzz_check_text (error->message);
    }

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
        g_autofree char *url = NULL;
        g_autoptr (GUri) uri = NULL;

        g_assert (inet != NULL);
        g_assert (!g_inet_address_get_is_loopback (inet) && !g_inet_address_get_is_any (inet)
                  && !g_inet_address_get_is_multicast (inet));
        /* An interface name as the kernel allows them. */
        if (ifname != NULL
            && strspn (ifname, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen (ifname))
          ifname = NULL;
        url = nearby_url_build_http (address, ifname, port, "/p/main");
        uri = g_uri_parse (url, G_URI_FLAGS_NONE, &error);
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
