#include <string.h>

#include "nearby-error.h"
#include "pkt-line.h"

typedef struct
{
  NearbyPktReader reader;
} Fixture;

static void
read_all (const char *input, gsize len, GString *trace, GError **error)
{
  g_autofree NearbyPktReader *reader = g_new (NearbyPktReader, 1);
  NearbyPktType type;

  nearby_pkt_reader_init (reader, input, len);
  while (nearby_pkt_read (reader, &type, error))
    {
      if (type == NEARBY_PKT_EOF)
        return;
      if (type == NEARBY_PKT_DATA)
        g_string_append_printf (trace, "[%s]", reader->line);
      else
        g_string_append_printf (trace, "<%d>", type);
    }
}

static void
test_read (void)
{
  const char input[] = "000ewant abcd\n0000"
                       "0001"
                       "0002"
                       "0004"
                       "0009done\n";
  g_autoptr (GString) trace = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  read_all (input, sizeof input - 1, trace, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (trace->str, ==, "[want abcd]<1><2><3>[][done]");
}

static void
test_malformed (void)
{
  const struct
  {
    const char *input;
    gsize len;
    const char *message;
  } bad[] = {
    { "00", 2, "malformed" },      { "zzzz", 4, "malformed" }, { "0003", 4, "malformed" },
    { "0010abc", 7, "truncated" }, { "fff1", 4, "too long" },  { "0008a\0b\n", 8, "NUL" },
    { "-001", 4, "malformed" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GString) trace = g_string_new (NULL);
      g_autoptr (GError) error = NULL;

      read_all (bad[i].input, bad[i].len, trace, &error);
      g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, bad[i].message));
    }
}

static void
test_write (void)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();

  nearby_pkt_write (out, "ACK %s common\n", "abc");
  nearby_pkt_delim (out);
  nearby_pkt_flush (out);
  g_byte_array_append (out, (const guint8 *) "", 1);
  g_assert_cmpstr ((const char *) out->data, ==, "0013ACK abc common\n00010000");
}

static void
test_sideband_split (void)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autofree char *data = g_malloc (70000);
  g_autofree NearbyPktReader *reader = g_new (NearbyPktReader, 1);
  NearbyPktType type;
  gsize total = 0;
  int packets = 0;

  memset (data, 'x', 70000);
  nearby_pkt_sideband (out, 1, data, 70000, NEARBY_SIDEBAND_DATA_MAX);
  nearby_pkt_reader_init (reader, out->data, out->len);
  while (nearby_pkt_read (reader, &type, NULL) && type == NEARBY_PKT_DATA)
    {
      g_assert_cmpint (reader->line[0], ==, 1);
      total += reader->line_len - 1;
      packets++;
    }
  g_assert_cmpint (type, ==, NEARBY_PKT_EOF);
  g_assert_cmpint (packets, ==, 2);
  g_assert_cmpuint (total, ==, 70000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pkt-line/read", test_read);
  g_test_add_func ("/pkt-line/malformed", test_malformed);
  g_test_add_func ("/pkt-line/write", test_write);
  g_test_add_func ("/pkt-line/sideband-split", test_sideband_split);
  return g_test_run ();
}
