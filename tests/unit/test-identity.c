/* Unit tests of shared/identity.c: the three spellings of a key, and the
 * identity file. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "identity.h"
#include "nearby-error.h"

/* A certificate made by openssl, and its pin as openssl computes it:
 * openssl x509 -pubkey -noout | openssl pkey -pubin -outform der
 *   | openssl dgst -sha256 -binary | base64 */
static const char openssl_cert[]
    = "-----BEGIN CERTIFICATE-----\n"
      "MIIBbDCCAROgAwIBAgIUcTByv6AV3e571MchVdt6ZqOswnwwCgYIKoZIzj0EAwIw\n"
      "DDEKMAgGA1UEAwwBdDAeFw0yNjEyMDIwMDM3MzdaFw0zNjExMjkwMDM3MzdaMAwx\n"
      "CjAIBgNVBAMMAXQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASOyLBFpwWeOFJW\n"
      "SYGQOvEE4UYyWq3yDOtQuw/Q4EkhQghzTV226bVuC0v6kovBokdOcqAXrPhIlmqM\n"
      "vHtM3hl9o1MwUTAdBgNVHQ4EFgQUoN2HfHOPW+rM94wQ05XVk2WolE0wHwYDVR0j\n"
      "BBgwFoAUoN2HfHOPW+rM94wQ05XVk2WolE0wDwYDVR0TAQH/BAUwAwEB/zAKBggq\n"
      "hkjOPQQDAgNHADBEAiAR/vN7QJZ5bb5XnuY4gMpX52v3dcy0hFeAshrdKl6K/QIg\n"
      "Ig5qr3/o88uvlGRy/81pD8Rr6Vwl/rbl0yOYjWMoLTA=\n"
      "-----END CERTIFICATE-----\n";
#define PIN "sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw="
#define URL_FORM "1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw"
#define CODE "TVJS-3GCF" /* Crockford base32 of the first 40 bits, by hand */

static void
test_pin_of_certificate (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *pin = nearby_key_of_certificate ((const guint8 *) openssl_cert,
                                                    strlen (openssl_cert), TRUE, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (pin, ==, PIN);
  g_assert_null (nearby_key_of_certificate ((const guint8 *) "junk", 4, TRUE, &error));
  g_assert_nonnull (error);
}

static void
test_spellings (void)
{
  g_autofree char *url_form = nearby_key_to_url_form (PIN);
  g_autofree char *back = nearby_key_from_url_form (URL_FORM);
  g_autofree char *padded = nearby_key_from_url_form (URL_FORM "=");
  g_autofree char *code = nearby_key_short_code (PIN);

  g_assert_true (nearby_key_is_valid (PIN));
  g_assert_cmpstr (url_form, ==, URL_FORM);
  g_assert_cmpstr (back, ==, PIN);
  g_assert_cmpstr (padded, ==, PIN);
  g_assert_cmpstr (code, ==, CODE);
}

static void
test_invalid (void)
{
  const char *pins[] = {
    NULL,
    "",
    "sha256//",
    "1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw=", /* no prefix */
    "sha1//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw=",
    "sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw", /* no padding */
    "sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJm*=",
    "sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmwA=",
    "sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJm w=",
  };
  const char *url_forms[] = {
    "",
    "1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJm", /* 42 */
    "1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmwA",
    "1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmx", /* padding bits set */
    "1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJm+", /* standard, not url, base64 */
    "1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJm%",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (pins); i++)
    {
      g_assert_false (nearby_key_is_valid (pins[i]));
      g_assert_null (nearby_key_short_code (pins[i]));
      g_assert_null (nearby_key_to_url_form (pins[i]));
    }
  for (gsize i = 0; i < G_N_ELEMENTS (url_forms); i++)
    {
      g_autofree char *pin = nearby_key_from_url_form (url_forms[i]);

      g_assert_null (pin);
    }
}

static void
test_matches (void)
{
  const char *yes[] = { PIN, URL_FORM, CODE, "tvjs-3gcf", "TVJS3GCF", "tvjs3gcf" };
  const char *no[] = { "TVJS-3GCG",  "TVJS-3GC", "TVJS-3GCFF", "TVJ-S3GCF",
                       "TVJS--3GCF", "alice",    "",           "sha256//" };

  for (gsize i = 0; i < G_N_ELEMENTS (yes); i++)
    {
      g_assert_true (nearby_key_matches (PIN, yes[i]));
      g_assert_true (nearby_key_spec_is_key (yes[i]));
    }
  for (gsize i = 0; i < G_N_ELEMENTS (no); i++)
    g_assert_false (nearby_key_matches (PIN, no[i]));
  g_assert_false (nearby_key_spec_is_key ("alice-laptop"));
  g_assert_false (nearby_key_matches (NULL, CODE));
  g_assert_false (nearby_key_matches ("not a pin", "not a pin"));
}

static void
test_short_code_reading (void)
{
  /* 0 and O, 1 and I and L are one symbol each in Crockford's base32. */
  const char *key = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  g_autofree char *code = nearby_key_short_code (key);

  g_assert_cmpstr (code, ==, "0000-0000");
  g_assert_true (nearby_key_matches (key, "OOOO-oooo"));
  g_assert_false (nearby_key_matches (key, "UUUU-0000")); /* no U in the alphabet */
}

typedef struct
{
  char *dir;
  char *path;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("test-identity-XXXXXX", NULL);
  f->path = g_build_filename (f->dir, "git-nearby", "identity.pem", NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_autofree char *sub = g_path_get_dirname (f->path);

  g_unlink (f->path);
  g_rmdir (sub);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

static void
test_create_and_reload (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NearbyIdentity) missing = nearby_identity_load (f->path, FALSE, &error);
  g_autoptr (NearbyIdentity) made = NULL;
  g_autoptr (NearbyIdentity) again = NULL;
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_autofree char *pem = NULL;
  g_autofree char *from_pem = NULL;
  GStatBuf st;

  g_assert_null (missing);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  made = nearby_identity_load (f->path, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (nearby_key_is_valid (made->key));
  g_assert_nonnull (made->certificate);
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* The pin is the certificate's in the file, as another reader of the
   * PEM computes it. */
  g_assert_true (g_file_get_contents (f->path, &pem, NULL, NULL));
  from_pem = nearby_key_of_certificate ((const guint8 *) pem, strlen (pem), TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (from_pem, ==, made->key);

  again = nearby_identity_load (f->path, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->key, ==, made->key);
}

static void
test_refuses_readable (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NearbyIdentity) made = nearby_identity_load (f->path, TRUE, &error);
  g_autoptr (NearbyIdentity) loose = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (f->path, 0644), ==, 0);
  loose = nearby_identity_load (f->path, TRUE, &error);
  g_assert_null (loose);
  g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "chmod 600"));
}

static void
test_refuses_broken (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (f->path);
  g_autoptr (NearbyIdentity) broken = NULL;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_assert_true (
      g_file_set_contents_full (f->path, openssl_cert, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  /* A certificate without its key cannot serve TLS. */
  broken = nearby_identity_load (f->path, TRUE, &error);
  g_assert_null (broken);
  g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/identity/pin-of-certificate", test_pin_of_certificate);
  g_test_add_func ("/identity/spellings", test_spellings);
  g_test_add_func ("/identity/invalid", test_invalid);
  g_test_add_func ("/identity/matches", test_matches);
  g_test_add_func ("/identity/short-code-reading", test_short_code_reading);
  g_test_add ("/identity/create-and-reload", Fixture, NULL, setup, test_create_and_reload,
              teardown);
  g_test_add ("/identity/refuses-readable", Fixture, NULL, setup, test_refuses_readable, teardown);
  g_test_add ("/identity/refuses-broken", Fixture, NULL, setup, test_refuses_broken, teardown);
  return g_test_run ();
}
