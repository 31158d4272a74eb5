/* pkt-tool: the tests' hands for raw protocol requests.
 *
 *   pkt-tool encode          lines on stdin -> pkt-lines ("FLUSH", "DELIM" are special)
 *   pkt-tool decode [PACK]   a response on stdin -> one line per packet; sideband
 *                            band 1 goes to PACK (an empty one prints "KEEPALIVE"),
 *                            band 2 prints "PROGRESS" once, band 3
 *                            prints "ERROR: <text>"
 */
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>

#include "pkt-line.h"

static GBytes *
read_stdin (void)
{
  g_autoptr (GInputStream) in = g_unix_input_stream_new (0, FALSE);
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();

  g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, NULL);
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

static int
encode (void)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  char line[70000];

  while (fgets (line, sizeof line, stdin) != NULL)
    {
      if (strcmp (line, "FLUSH\n") == 0)
        nearby_pkt_flush (out);
      else if (strcmp (line, "DELIM\n") == 0)
        nearby_pkt_delim (out);
      else
        nearby_pkt_write_data (out, line, strlen (line));
    }
  fwrite (out->data, 1, out->len, stdout);
  return 0;
}

static int
decode (const char *pack_path)
{
  g_autoptr (GBytes) input = read_stdin ();
  const guint8 *data = g_bytes_get_data (input, NULL);
  gsize len = g_bytes_get_size (input), pos = 0;
  FILE *pack = pack_path != NULL ? fopen (pack_path, "wb") : NULL;
  gboolean progress = FALSE;

  while (pos + 4 <= len)
    {
      char hex[5] = { 0 };
      unsigned size;

      memcpy (hex, data + pos, 4);
      if (sscanf (hex, "%4x", &size) != 1)
        {
          printf ("BAD LENGTH\n");
          return 1;
        }
      if (size < 4)
        {
          printf ("%s\n", size == 0 ? "FLUSH" : size == 1 ? "DELIM" : "END");
          pos += 4;
          continue;
        }
      if (pos + size > len)
        {
          printf ("TRUNCATED\n");
          return 1;
        }
      if (size > 4 && data[pos + 4] >= 1 && data[pos + 4] <= 3)
        {
          guint8 band = data[pos + 4];

          if (band == 1 && size == 5)
            printf ("KEEPALIVE\n");
          else if (band == 1 && pack != NULL)
            fwrite (data + pos + 5, 1, size - 5, pack);
          else if (band == 2 && !progress)
            {
              printf ("PROGRESS\n");
              progress = TRUE;
            }
          else if (band == 3)
            printf ("ERROR: %.*s\n", (int) size - 5, data + pos + 5);
        }
      else
        {
          int n = size - 4;

          if (n > 0 && data[pos + size - 1] == '\n')
            n--;
          /* NUL separates capabilities in a v0 advertisement */
          for (int i = 0; i < n; i++)
            putchar (data[pos + 4 + i] == '\0' ? ' ' : data[pos + 4 + i]);
          putchar ('\n');
        }
      pos += size;
    }
  if (pos != len)
    printf ("TRAILING %zu BYTES\n", len - pos);
  if (pack != NULL)
    fclose (pack);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "encode") == 0)
    return encode ();
  if (argc >= 2 && strcmp (argv[1], "decode") == 0)
    return decode (argc >= 3 ? argv[2] : NULL);
  fprintf (stderr, "usage: pkt-tool encode | decode [PACK]\n");
  return 2;
}
