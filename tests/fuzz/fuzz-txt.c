/* libFuzzer harness: the TXT record decoder (shared/txt-record.c). The
 * input is the record's strings separated by NUL bytes. */
#include "fuzz-common.h"
#include "name.h"
#include "txt-record.h"

static gboolean
is_id (const char *s)
{
  if (strlen (s) != 40)
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isdigit (*s) && !(*s >= 'a' && *s <= 'f'))
      return FALSE;
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_auto (GStrv) strings = fuzz_split (data, size, 64);
  g_auto (NearbyTxt) txt = { 0 };
  g_autoptr (GError) error = NULL;

  for (char **s = strings; *s != NULL; s++)
    fuzz_check_escaped (*s);

  if (!nearby_txt_decode ((const char *const *) strings, &txt, &error))
    {
      g_assert (error != NULL);
      fuzz_check_text (error->message);
      g_assert (txt.name == NULL && txt.path == NULL && txt.ref == NULL);
      return 0;
    }
  g_assert (error == NULL);

  /* What a decoded record promises its readers. */
  g_assert (nearby_name_validate (txt.name, NULL));
  {
    g_autofree char *path = nearby_name_to_path (txt.name);
    g_autofree char *back = NULL;

    g_assert_cmpstr (txt.path, ==, path);
    g_assert (strchr (txt.path, '?') == NULL && strchr (txt.path, '#') == NULL);
    back = nearby_name_from_path (txt.path + 1, strlen (txt.path + 1), NULL);
    g_assert_cmpstr (back, ==, txt.name);
  }
  g_assert (txt.ref == NULL || g_utf8_validate (txt.ref, -1, NULL));
  g_assert (txt.head == NULL || is_id (txt.head));
  g_assert (txt.repo == NULL || is_id (txt.repo));

  /* Encoded again (when it fits), it decodes to the same record. */
  {
    g_auto (GStrv) again = nearby_txt_encode (&txt, NULL);
    g_auto (NearbyTxt) txt2 = { 0 };

    if (again != NULL)
      {
        g_assert (nearby_txt_decode ((const char *const *) again, &txt2, NULL));
        g_assert_cmpstr (txt2.name, ==, txt.name);
        g_assert_cmpstr (txt2.path, ==, txt.path);
        g_assert_cmpstr (txt2.ref, ==, txt.ref);
        g_assert_cmpstr (txt2.head, ==, txt.head);
        g_assert_cmpstr (txt2.repo, ==, txt.repo);
      }
  }
  return 0;
}
