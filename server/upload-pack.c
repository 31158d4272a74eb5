#include "config.h"

#include "upload-pack.h"

#include <stdlib.h>
#include <string.h>

#include "git-util.h"
#include "nearby-error.h"
#include "pkt-line.h"
#include "shallow.h"

#define AGENT "git-nearby/" PACKAGE_VERSION
#define MAX_WANTS 256
#define MAX_HAVES 1000000
/* Commit visits for all of one request's ok_to_give_up() searches: a few
 * milliseconds of in-memory work, whatever the request says. */
#define NEGOTIATION_BUDGET 1000000
#define PACK_WINDOW_MEMORY "256m"

typedef struct
{
  const NearbyUploadTarget *target;
  NearbyReach *reach;   /* the target's, or asked of get_reach() (see request_reach()) */
  gboolean reach_asked; /* whether get_reach() was */

  GArray *wants;           /* validated: commits in the reach set */
  GHashTable *seen;        /* wants and haves already taken, to skip repeats */
  GArray *common;          /* validated haves, in the order they came */
  gboolean got_other;      /* a have we do not know (or will not admit to) */
  GArray *shallows;        /* the client's shallows that are in the reach set, once each */
  GHashTable *shallow_set; /* the same, for lookups */
  NearbyDeepen deepen;
  GPtrArray *want_refs; /* v2 want-ref: HEAD and/or the branch's ref */
  gboolean done;
  gboolean thin_pack;
  gboolean ofs_delta;
  gboolean no_progress;
  gboolean no_done;
  int multi_ack; /* 0, 1 (multi_ack) or 2 (multi_ack_detailed) */
  gsize sideband_max;
  guint n_haves;
  NearbyReachSearch *search; /* for ok_to_give_up(), once needed */
  guint marked;              /* commons marked in @search */
  guint answered_commons;    /* commons when ok_to_give_up() last answered */
  gboolean answer;           /* and what it said */
} Request;

static void
request_clear (Request *req)
{
  g_clear_pointer (&req->wants, g_array_unref);
  g_clear_pointer (&req->search, nearby_reach_search_free);
  g_clear_pointer (&req->seen, g_hash_table_unref);
  g_clear_pointer (&req->common, g_array_unref);
  g_clear_pointer (&req->shallows, g_array_unref);
  g_clear_pointer (&req->shallow_set, g_hash_table_unref);
  g_clear_pointer (&req->want_refs, g_ptr_array_unref);
  g_clear_pointer (&req->reach, nearby_reach_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Request, request_clear)

void
nearby_pack_plan_free (NearbyPackPlan *plan)
{
  if (plan == NULL)
    return;
  g_byte_array_unref (plan->preamble);
  g_clear_pointer (&plan->argv, g_ptr_array_unref);
  if (plan->input != NULL)
    g_string_free (plan->input, TRUE);
  g_free (plan->refusal);
  g_free (plan->summary);
  g_free (plan);
}

/* ---- advertisement ---- */

static char *
v0_capabilities (const NearbyUploadTarget *target)
{
  GString *caps = g_string_new ("multi_ack_detailed no-done side-band-64k side-band thin-pack "
                                "ofs-delta shallow deepen-since deepen-not deepen-relative "
                                "no-progress");
  if (!target->unborn)
    g_string_append_printf (caps, " symref=HEAD:%s", target->refname);
  g_string_append (caps, " object-format=sha1 agent=" AGENT);
  return g_string_free (caps, FALSE);
}

GBytes *
nearby_upload_pack_advertise (const NearbyUploadTarget *target, gboolean v2)
{
  GByteArray *out = g_byte_array_new ();

  if (v2)
    {
      /* As git http-backend: no "# service" banner for v2. */
      nearby_pkt_write (out, "version 2\n");
      nearby_pkt_write (out, "agent=%s\n", AGENT);
      nearby_pkt_write (out, "ls-refs=unborn\n");
      nearby_pkt_write (out, "fetch=shallow ref-in-want\n");
      nearby_pkt_write (out, "object-format=sha1\n");
      nearby_pkt_flush (out);
    }
  else
    {
      g_autofree char *caps = v0_capabilities (target);
      g_autoptr (GString) line = g_string_new (NULL);
      char hex[GIT_OID_HEXSZ + 1];

      nearby_pkt_write (out, "# service=git-upload-pack\n");
      nearby_pkt_flush (out);

      /* An unborn branch has no ref to show, only the capabilities. */
      if (target->unborn)
        g_string_append (line, "0000000000000000000000000000000000000000 capabilities^{}");
      else
        {
          git_oid_tostr (hex, sizeof hex, &target->tip);
          g_string_append_printf (line, "%s HEAD", hex);
        }
      g_string_append_c (line, '\0');
      g_string_append_printf (line, "%s\n", caps);
      nearby_pkt_write_data (out, line->str, line->len);
      if (!target->unborn)
        nearby_pkt_write (out, "%s %s\n", hex, target->refname);
      nearby_pkt_flush (out);
    }
  return g_byte_array_free_to_bytes (out);
}

/* ---- requests ---- */

static gboolean refuse (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
refuse (GError **error, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (NEARBY_ERROR, NEARBY_ERROR_INVALID, format, args));
  va_end (args);
  return FALSE;
}

/* Parses "<40 hex>" at @arg (up to the end or a space). */
static gboolean
parse_oid (const char *arg, git_oid *oid, const char **rest)
{
  gsize len = strcspn (arg, " ");

  if (!nearby_oid_from_hex (oid, arg, len))
    return FALSE;
  if (rest != NULL)
    *rest = arg + len;
  else if (arg[len] != '\0')
    return FALSE;
  return TRUE;
}

/* The reach set of the tip, asked for at most once per request, and only
 * when needed: a plain clone names the tip alone and walks nothing. NULL
 * if the history cannot be read (logged). */
static NearbyReach *
request_reach (Request *req)
{
  const NearbyUploadTarget *target = req->target;
  g_autoptr (GError) error = NULL;

  if (req->reach != NULL || req->reach_asked || target->unborn || target->get_reach == NULL)
    return req->reach;
  req->reach_asked = TRUE;
  req->reach = target->get_reach (target->reach_data, &target->tip, &error);
  if (req->reach == NULL)
    g_warning ("cannot walk the history of %s: %s", git_oid_tostr_s (&target->tip),
               error != NULL ? error->message : "no reason given");
  return req->reach;
}

/* The boundary: the tip, and what is reachable from it. */
static gboolean
in_boundary (Request *req, const git_oid *oid)
{
  NearbyReach *reach;

  if (req->target->unborn)
    return FALSE;
  if (git_oid_equal (oid, &req->target->tip))
    return TRUE;
  reach = request_reach (req);
  return reach != NULL && nearby_reach_contains (reach, oid);
}

/* A want must be the tip or a commit reachable from it. Anything else —
 * another branch's commit, a tree, a blob, a tag, or nothing at all — gets
 * the same answer, so the answer says nothing about what exists. */
static gboolean
take_want (Request *req, const char *arg, const char **rest, GError **error)
{
  git_oid oid;

  if (!parse_oid (arg, &oid, rest))
    return refuse (error, "protocol error: expected an object id after 'want'");
  if (!in_boundary (req, &oid))
    return refuse (error, "upload-pack: not our ref %s", git_oid_tostr_s (&oid));
  if (req->wants->len >= MAX_WANTS)
    return refuse (error, "too many wants");
  for (guint i = 0; i < req->wants->len; i++)
    if (git_oid_equal (&g_array_index (req->wants, git_oid, i), &oid))
      return TRUE;
  g_array_append_val (req->wants, oid);
  req->answered_commons = 0; /* a new want: ask again */
  return TRUE;
}

/* A have is common only if it is inside the boundary; any other is unknown,
 * whether it exists or not, and never reaches pack-objects. Returns whether
 * it was common, or -1 on error. */
static int
take_have (Request *req, const char *arg, GError **error)
{
  git_oid oid;

  if (!parse_oid (arg, &oid, NULL))
    {
      refuse (error, "protocol error: expected an object id after 'have'");
      return -1;
    }
  if (++req->n_haves > MAX_HAVES)
    {
      refuse (error, "too many haves");
      return -1;
    }
  if (!in_boundary (req, &oid))
    {
      req->got_other = TRUE;
      return 0;
    }
  if (!g_hash_table_contains (req->seen, &oid))
    {
      g_hash_table_add (req->seen, g_memdup2 (&oid, sizeof oid));
      g_array_append_val (req->common, oid);
    }
  return 1;
}

/* A shallow line names a commit the client has without its parents. One
 * outside the boundary is ignored, like one that does not exist: a client
 * whose branch was force-updated legitimately sends such lines. A repeated
 * one is taken once, as git's CLIENT_SHALLOW flag does: up to MAX_HAVES
 * lines never become as many unshallow lines or pack-objects grafts. */
static gboolean
take_shallow (Request *req, const char *arg, GError **error)
{
  git_oid oid;

  if (!parse_oid (arg, &oid, NULL))
    return refuse (error, "protocol error: expected an object id after 'shallow'");
  if (req->shallows->len >= MAX_HAVES)
    return refuse (error, "too many shallow lines");
  if (in_boundary (req, &oid) && !g_hash_table_contains (req->shallow_set, &oid))
    {
      g_hash_table_add (req->shallow_set, g_memdup2 (&oid, sizeof oid));
      g_array_append_val (req->shallows, oid);
    }
  return TRUE;
}

/* A decimal number > 0, as deepen and deepen-since take. */
static gboolean
take_positive (const char *arg, const char *what, gint64 *value, GError **error)
{
  char *end = NULL;

  *value = g_ascii_strtoll (arg, &end, 10);
  if (end == arg || *end != '\0' || *value <= 0 || !g_ascii_isdigit (*arg))
    return refuse (error, "protocol error: invalid %s '%.40s'", what, arg);
  return TRUE;
}

static gboolean
take_depth (Request *req, const char *arg, GError **error)
{
  gint64 depth;

  if (!take_positive (arg, "depth", &depth, error))
    return FALSE;
  req->deepen.depth = (int) MIN (depth, NEARBY_INFINITE_DEPTH);
  return TRUE;
}

static gboolean
take_since (Request *req, const char *arg, GError **error)
{
  return take_positive (arg, "deepen-since", &req->deepen.since, error);
}

/* deepen-not takes a ref name; only the advertised branch has one here. */
static gboolean
take_deepen_not (Request *req, const char *arg, GError **error)
{
  const char *branch = req->target->branch;
  g_autofree char *heads = g_strconcat ("heads/", branch, NULL);

  if (req->target->unborn
      || !(strcmp (arg, "HEAD") == 0 || strcmp (arg, req->target->refname) == 0
           || strcmp (arg, heads) == 0 || strcmp (arg, branch) == 0))
    return refuse (error, "deepen-not: unknown ref '%s'", arg);
  req->deepen.exclude = TRUE;
  return TRUE;
}

/* Lines that mean the same in both protocol versions. Returns -1 for a
 * line it does not know. */
static int
take_common_line (Request *req, const char *line, GError **error)
{
  const char *arg;

  if ((arg = g_str_has_prefix (line, "shallow ") ? line + 8 : NULL) != NULL)
    return take_shallow (req, arg, error);
  if ((arg = g_str_has_prefix (line, "deepen ") ? line + 7 : NULL) != NULL)
    return take_depth (req, arg, error);
  if ((arg = g_str_has_prefix (line, "deepen-since ") ? line + 13 : NULL) != NULL)
    return take_since (req, arg, error);
  if ((arg = g_str_has_prefix (line, "deepen-not ") ? line + 11 : NULL) != NULL)
    return take_deepen_not (req, arg, error);
  return -1;
}

static void
take_v0_capabilities (Request *req, const char *caps)
{
  g_auto (GStrv) words = g_strsplit (caps, " ", -1);

  for (char **w = words; *w != NULL; w++)
    {
      if (strcmp (*w, "multi_ack_detailed") == 0)
        req->multi_ack = 2;
      else if (strcmp (*w, "multi_ack") == 0 && req->multi_ack == 0)
        req->multi_ack = 1;
      else if (strcmp (*w, "side-band-64k") == 0)
        req->sideband_max = NEARBY_SIDEBAND_DATA_MAX;
      else if (strcmp (*w, "side-band") == 0 && req->sideband_max == 0)
        req->sideband_max = 1000 - 5;
      else if (strcmp (*w, "thin-pack") == 0)
        req->thin_pack = TRUE;
      else if (strcmp (*w, "ofs-delta") == 0)
        req->ofs_delta = TRUE;
      else if (strcmp (*w, "no-progress") == 0)
        req->no_progress = TRUE;
      else if (strcmp (*w, "no-done") == 0)
        req->no_done = TRUE;
      else if (strcmp (*w, "deepen-relative") == 0)
        req->deepen.relative = TRUE;
      /* include-tag is never honoured: tags are not part of a branch. Other
       * capabilities (agent=, object-format=, ...) change nothing here. */
    }
}

/* git's upload-pack.c ok_to_give_up(): whether every want already reaches
 * something the client has, so that "ready" can be said. git answers with
 * can_all_from_reach_with_flag(&want_obj, THEY_HAVE, COMMON_KNOWN,
 * oldest_have, ...), a walk per call, and calls it once per unknown have;
 * ours is one walk for the whole request in the reach set's in-memory graph
 * (NearbyReachSearch), within NEGOTIATION_BUDGET commits. With no new
 * common since the last answer, the answer stands. Past the budget the
 * answer is FALSE, which is always correct: "ready" only saves a round, and
 * the client then sends "done". */
static gboolean
ok_to_give_up (Request *req)
{
  const NearbyUploadTarget *target = req->target;
  g_autoptr (GArray) froms = NULL;

  if (req->common->len == 0)
    return FALSE;
  if (req->common->len == req->answered_commons)
    return req->answer;

  /* The new commons are marked THEY_HAVE (git's got_oid()). */
  if (req->search == NULL && req->reach != NULL)
    req->search = nearby_reach_search_new (req->reach, NEGOTIATION_BUDGET);
  for (; req->search != NULL && req->marked < req->common->len; req->marked++)
    nearby_reach_search_mark (req->search, &g_array_index (req->common, git_oid, req->marked));

  /* Every common is below the tip: a want of the tip reaches. */
  froms = g_array_sized_new (FALSE, FALSE, sizeof (git_oid), req->wants->len);
  for (guint i = 0; i < req->wants->len; i++)
    if (!git_oid_equal (&g_array_index (req->wants, git_oid, i), &target->tip))
      g_array_append_val (froms, g_array_index (req->wants, git_oid, i));

  req->answered_commons = req->common->len;
  req->answer = froms->len == 0
                || (req->search != NULL
                    && nearby_reach_search_reaches_all (req->search, (const git_oid *) froms->data,
                                                        froms->len));
  return req->answer;
}

typedef struct
{
  GArray *new_shallows;
  GArray *unshallows;
} ShallowInfo;

static void
shallow_info_clear (ShallowInfo *info)
{
  g_clear_pointer (&info->new_shallows, g_array_unref);
  g_clear_pointer (&info->unshallows, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ShallowInfo, shallow_info_clear)

static gboolean
compute_shallow_info (Request *req, ShallowInfo *info, GError **error)
{
  info->new_shallows = g_array_new (FALSE, FALSE, sizeof (git_oid));
  info->unshallows = g_array_new (FALSE, FALSE, sizeof (git_oid));
  if (req->deepen.depth > 0 && (req->deepen.since != 0 || req->deepen.exclude))
    return refuse (error, "deepen and deepen-since (or deepen-not) cannot be used together");
  if (req->deepen.relative && req->deepen.depth == 0)
    return refuse (error, "deepen-relative needs deepen");
  if (!nearby_deepen_requested (&req->deepen))
    return TRUE;
  /* Depths are counted in the reach set's graph, not by reading commits
   * one by one (without it, for a history that cannot be walked, they are). */
  return nearby_shallow_compute (req->target->repo, request_reach (req), &req->deepen, req->wants,
                                 req->shallows, info->new_shallows, info->unshallows, error);
}

static void
write_shallow_lines (GByteArray *out, ShallowInfo *info)
{
  for (guint i = 0; i < info->new_shallows->len; i++)
    nearby_pkt_write (out, "shallow %s\n",
                      git_oid_tostr_s (&g_array_index (info->new_shallows, git_oid, i)));
  for (guint i = 0; i < info->unshallows->len; i++)
    nearby_pkt_write (out, "unshallow %s\n",
                      git_oid_tostr_s (&g_array_index (info->unshallows, git_oid, i)));
}

static void
append_oids (GString *input, const char *prefix, GArray *oids)
{
  char hex[GIT_OID_HEXSZ + 1];

  for (guint i = 0; i < oids->len; i++)
    {
      git_oid_tostr (hex, sizeof hex, &g_array_index (oids, git_oid, i));
      g_string_append_printf (input, "%s%s\n", prefix, hex);
    }
}

/* The pack-objects command for a validated request. Its input holds only ids
 * from the reach set (and their parents): wants, shallow grafts, and the
 * common haves after --not. Never --include-tag. */
static gboolean
plan_pack (NearbyPackPlan *plan, Request *req, ShallowInfo *info, GError **error)
{
  gboolean grafts = req->shallows->len > 0 || info->new_shallows->len > 0;
  g_autoptr (GArray) wants = g_array_copy (req->wants);

  /* A shallow commit that is deepened now: the client has it but none of
   * its parents, which become wants (as git upload-pack does). */
  for (guint i = 0; i < info->unshallows->len; i++)
    {
      g_autoptr (git_commit) commit = NULL;
      const git_oid *oid = &g_array_index (info->unshallows, git_oid, i);
      int rc;

      if (req->reach != NULL && nearby_reach_parents (req->reach, oid, wants))
        continue;
      if ((rc = git_commit_lookup (&commit, req->target->repo, oid)) < 0)
        return nearby_git_error (error, rc, "cannot read commit %s", git_oid_tostr_s (oid));
      for (unsigned int p = 0; p < git_commit_parentcount (commit); p++)
        g_array_append_val (wants, *git_commit_parent_id (commit, p));
    }

  plan->send_pack = TRUE;
  plan->progress = !req->no_progress && req->sideband_max > 0;
  plan->sideband_max = req->sideband_max;
  plan->argv = g_ptr_array_new ();
  g_ptr_array_add (plan->argv, "git");
  /* git's default is no limit: bound each delta search thread's window, so
   * that --max-jobs bounds memory as well as processes. */
  g_ptr_array_add (plan->argv, "-c");
  g_ptr_array_add (plan->argv, "pack.windowMemory=" PACK_WINDOW_MEMORY);
  if (grafts)
    {
      /* Only the grafts we pass count, not a shallow file of the repository. */
      g_ptr_array_add (plan->argv, "--shallow-file");
      g_ptr_array_add (plan->argv, "");
    }
  g_ptr_array_add (plan->argv, "pack-objects");
  g_ptr_array_add (plan->argv, "--revs");
  g_ptr_array_add (plan->argv, "--stdout");
  if (req->thin_pack)
    g_ptr_array_add (plan->argv, "--thin");
  if (grafts)
    g_ptr_array_add (plan->argv, "--shallow");
  if (plan->progress)
    g_ptr_array_add (plan->argv, "--progress");
  else
    g_ptr_array_add (plan->argv, "-q");
  if (req->ofs_delta)
    g_ptr_array_add (plan->argv, "--delta-base-offset");
  g_ptr_array_add (plan->argv, NULL);

  plan->input = g_string_new (NULL);
  append_oids (plan->input, "--shallow ", req->shallows);
  append_oids (plan->input, "--shallow ", info->new_shallows);
  append_oids (plan->input, "", wants);
  g_string_append (plan->input, "--not\n");
  append_oids (plan->input, "", req->common);
  append_oids (plan->input, "", info->unshallows);

  plan->summary
      = g_strdup_printf ("%u want(s), %u have(s) of which %u common, %u shallow, depth %d%s",
                         req->wants->len, req->n_haves, req->common->len, req->shallows->len,
                         req->deepen.depth, req->deepen.since != 0 ? ", since" : "");
  return TRUE;
}

/* v0, stateless: wants, shallows and deepen up to a flush; then haves ending
 * in a flush (one negotiation round) or "done". */
static gboolean
handle_v0 (NearbyPackPlan *plan, Request *req, NearbyPktReader *reader, GError **error)
{
  g_auto (ShallowInfo) info = { 0 };
  GByteArray *out = plan->preamble;
  NearbyPktType type;
  gboolean first = TRUE;
  gboolean sent_ready = FALSE;
  char last_hex[GIT_OID_HEXSZ + 1] = "";

  while (TRUE)
    {
      const char *line = reader->line;
      const char *rest = NULL;

      if (!nearby_pkt_read (reader, &type, error))
        return FALSE;
      if (type == NEARBY_PKT_FLUSH)
        break;
      if (type != NEARBY_PKT_DATA)
        return refuse (error, "protocol error: unexpected end of request");
      if (g_str_has_prefix (line, "want "))
        {
          if (!take_want (req, line + 5, &rest, error))
            return FALSE;
          if (*rest != '\0')
            {
              if (!first)
                return refuse (error, "protocol error: capabilities after the first want");
              take_v0_capabilities (req, rest + 1);
            }
          first = FALSE;
          continue;
        }
      switch (take_common_line (req, line, error))
        {
        case 1:
          continue;
        case 0:
          return FALSE;
        default:
          return refuse (error, "protocol error: unexpected '%.40s'", line);
        }
    }

  if (req->wants->len == 0)
    {
      if (!nearby_pkt_read (reader, &type, error))
        return FALSE;
      if (type != NEARBY_PKT_EOF)
        return refuse (error, "protocol error: a request without wants");
      return TRUE; /* nothing wanted, nothing to say */
    }

  if (!compute_shallow_info (req, &info, error))
    return FALSE;
  if (nearby_deepen_requested (&req->deepen))
    {
      write_shallow_lines (out, &info);
      nearby_pkt_flush (out);
    }

  /* Haves. */
  while (TRUE)
    {
      const char *line = reader->line;

      if (!nearby_pkt_read (reader, &type, error))
        return FALSE;
      if (type == NEARBY_PKT_EOF)
        {
          /* Only the shallow exchange was asked for. */
          return TRUE;
        }
      if (type == NEARBY_PKT_FLUSH)
        {
          if (req->multi_ack == 2 && req->common->len > 0 && !req->got_other && ok_to_give_up (req))
            {
              sent_ready = TRUE;
              nearby_pkt_write (out, "ACK %s ready\n", last_hex);
            }
          if (req->common->len == 0 || req->multi_ack)
            nearby_pkt_write (out, "NAK\n");
          if (req->no_done && sent_ready)
            {
              nearby_pkt_write (out, "ACK %s\n", last_hex);
              break;
            }
          if (!nearby_pkt_read (reader, &type, error))
            return FALSE;
          if (type != NEARBY_PKT_EOF)
            return refuse (error, "protocol error: data after the end of a stateless round");
          return TRUE;
        }
      if (type != NEARBY_PKT_DATA)
        return refuse (error, "protocol error: unexpected packet among haves");

      if (g_str_has_prefix (line, "have "))
        {
          git_oid oid;

          switch (take_have (req, line + 5, error))
            {
            case -1:
              return FALSE;
            case 0:
              if (req->multi_ack && ok_to_give_up (req))
                {
                  parse_oid (line + 5, &oid, NULL);
                  if (req->multi_ack == 2)
                    {
                      sent_ready = TRUE;
                      nearby_pkt_write (out, "ACK %s ready\n", git_oid_tostr_s (&oid));
                    }
                  else
                    nearby_pkt_write (out, "ACK %s continue\n", git_oid_tostr_s (&oid));
                }
              break;
            default:
              g_strlcpy (last_hex, line + 5, sizeof last_hex);
              if (req->multi_ack == 2)
                nearby_pkt_write (out, "ACK %s common\n", last_hex);
              else if (req->multi_ack)
                nearby_pkt_write (out, "ACK %s continue\n", last_hex);
              else if (req->common->len == 1)
                nearby_pkt_write (out, "ACK %s\n", last_hex);
              break;
            }
          continue;
        }
      if (strcmp (line, "done") == 0)
        {
          if (req->common->len > 0)
            {
              if (req->multi_ack)
                nearby_pkt_write (out, "ACK %s\n", last_hex);
            }
          else
            nearby_pkt_write (out, "NAK\n");
          if (!nearby_pkt_read (reader, &type, error))
            return FALSE;
          if (type != NEARBY_PKT_EOF)
            return refuse (error, "protocol error: data after 'done'");
          break;
        }
      return refuse (error, "protocol error: unexpected '%.40s'", line);
    }

  return plan_pack (plan, req, &info, error);
}

/* v2: the capability lines after command=, up to a delim (or flush). */
static gboolean
read_v2_capabilities (NearbyPktReader *reader, NearbyPktType *type, GError **error)
{
  while (TRUE)
    {
      const char *line = reader->line;

      if (!nearby_pkt_read (reader, type, error))
        return FALSE;
      if (*type == NEARBY_PKT_DELIM || *type == NEARBY_PKT_FLUSH)
        return TRUE;
      if (*type != NEARBY_PKT_DATA)
        return refuse (error, "protocol error: unexpected end of request");
      if (g_str_has_prefix (line, "agent=") || strcmp (line, "object-format=sha1") == 0)
        continue;
      return refuse (error, "unknown capability '%.40s'", line);
    }
}

/* The next argument line of a v2 command, or NULL in *@line at the flush
 * that ends the arguments. */
static gboolean
next_argument (NearbyPktReader *reader, const char *command, const char **line, GError **error)
{
  NearbyPktType type;

  *line = NULL;
  if (!nearby_pkt_read (reader, &type, error))
    return FALSE;
  if (type == NEARBY_PKT_FLUSH)
    return TRUE;
  if (type != NEARBY_PKT_DATA)
    return refuse (error, "protocol error: unexpected end of %s", command);
  *line = reader->line;
  return TRUE;
}

static gboolean
expect_eof (NearbyPktReader *reader, GError **error)
{
  NearbyPktType type;

  if (!nearby_pkt_read (reader, &type, error))
    return FALSE;
  if (type != NEARBY_PKT_EOF)
    return refuse (error, "protocol error: data after the end of the command");
  return TRUE;
}

static gboolean
handle_ls_refs (NearbyPackPlan *plan, Request *req, NearbyPktReader *reader, NearbyPktType type,
                GError **error)
{
  const NearbyUploadTarget *target = req->target;
  g_autoptr (GPtrArray) prefixes = g_ptr_array_new_with_free_func (g_free);
  gboolean symrefs = FALSE, unborn = FALSE;
  const char *refs[] = { "HEAD", target->refname };

  const char *line;

  while (type != NEARBY_PKT_FLUSH)
    {
      if (!next_argument (reader, "ls-refs", &line, error))
        return FALSE;
      if (line == NULL)
        break;
      if (strcmp (line, "symrefs") == 0)
        symrefs = TRUE;
      else if (strcmp (line, "peel") == 0)
        ; /* a branch points at a commit: nothing to peel */
      else if (strcmp (line, "unborn") == 0)
        unborn = TRUE;
      else if (g_str_has_prefix (line, "ref-prefix "))
        {
          if (prefixes->len < 256)
            g_ptr_array_add (prefixes, g_strdup (line + 11));
        }
      else
        return refuse (error, "ls-refs: unexpected argument '%.40s'", line);
    }
  if (!expect_eof (reader, error))
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (refs); i++)
    {
      gboolean wanted = prefixes->len == 0;
      gboolean head = i == 0;

      for (guint p = 0; !wanted && p < prefixes->len; p++)
        wanted = g_str_has_prefix (refs[i], prefixes->pdata[p]);
      if (!wanted)
        continue;
      if (target->unborn)
        {
          if (head && unborn)
            nearby_pkt_write (plan->preamble, "unborn HEAD%s%s\n", symrefs ? " symref-target:" : "",
                              symrefs ? target->refname : "");
          continue;
        }
      nearby_pkt_write (plan->preamble, "%s %s%s%s\n", git_oid_tostr_s (&target->tip), refs[i],
                        head && symrefs ? " symref-target:" : "",
                        head && symrefs ? target->refname : "");
    }
  nearby_pkt_flush (plan->preamble);
  return TRUE;
}

static gboolean
handle_fetch (NearbyPackPlan *plan, Request *req, NearbyPktReader *reader, NearbyPktType type,
              GError **error)
{
  g_auto (ShallowInfo) info = { 0 };
  GByteArray *out = plan->preamble;
  gboolean ready;

  const char *line;

  req->sideband_max = NEARBY_SIDEBAND_DATA_MAX;
  while (type != NEARBY_PKT_FLUSH)
    {
      if (!next_argument (reader, "fetch", &line, error))
        return FALSE;
      if (line == NULL)
        break;

      if (g_str_has_prefix (line, "want "))
        {
          if (!take_want (req, line + 5, NULL, error))
            return FALSE;
        }
      else if (g_str_has_prefix (line, "have "))
        {
          if (take_have (req, line + 5, error) < 0)
            return FALSE;
        }
      else if (g_str_has_prefix (line, "want-ref "))
        {
          const char *ref = line + 9;

          if (req->target->unborn
              || (strcmp (ref, "HEAD") != 0 && strcmp (ref, req->target->refname) != 0))
            return refuse (error, "unknown ref %.200s", ref);
          if (req->want_refs->len >= 2)
            return refuse (error, "protocol error: repeated want-ref");
          g_ptr_array_add (req->want_refs, g_strdup (ref));
          if (!take_want (req, git_oid_tostr_s (&req->target->tip), NULL, error))
            return FALSE;
        }
      else if (strcmp (line, "done") == 0)
        req->done = TRUE;
      else if (strcmp (line, "thin-pack") == 0)
        req->thin_pack = TRUE;
      else if (strcmp (line, "no-progress") == 0)
        req->no_progress = TRUE;
      else if (strcmp (line, "ofs-delta") == 0)
        req->ofs_delta = TRUE;
      else if (strcmp (line, "include-tag") == 0)
        ; /* never honoured: tags are not part of a branch */
      else if (strcmp (line, "deepen-relative") == 0)
        req->deepen.relative = TRUE;
      else
        switch (take_common_line (req, line, error))
          {
          case 1:
            break;
          case 0:
            return FALSE;
          default:
            return refuse (error, "fetch: unexpected argument '%.40s'", line);
          }
    }
  if (!expect_eof (reader, error))
    return FALSE;
  if (req->wants->len == 0)
    return refuse (error, "fetch: no wants");

  ready = req->done || ok_to_give_up (req);
  if (!req->done)
    {
      nearby_pkt_write (out, "acknowledgments\n");
      if (req->common->len == 0)
        nearby_pkt_write (out, "NAK\n");
      for (guint i = 0; i < req->common->len; i++)
        nearby_pkt_write (out, "ACK %s\n",
                          git_oid_tostr_s (&g_array_index (req->common, git_oid, i)));
      if (!ready)
        {
          nearby_pkt_flush (out);
          return TRUE;
        }
      nearby_pkt_write (out, "ready\n");
      nearby_pkt_delim (out);
    }

  if (!compute_shallow_info (req, &info, error))
    return FALSE;
  if (nearby_deepen_requested (&req->deepen) || req->shallows->len > 0)
    {
      nearby_pkt_write (out, "shallow-info\n");
      write_shallow_lines (out, &info);
      nearby_pkt_delim (out);
    }
  if (req->want_refs->len > 0)
    {
      nearby_pkt_write (out, "wanted-refs\n");
      for (guint i = 0; i < req->want_refs->len; i++)
        nearby_pkt_write (out, "%s %s\n", git_oid_tostr_s (&req->target->tip),
                          (const char *) req->want_refs->pdata[i]);
      nearby_pkt_delim (out);
    }
  nearby_pkt_write (out, "packfile\n");
  return plan_pack (plan, req, &info, error);
}

static gboolean
handle_v2 (NearbyPackPlan *plan, Request *req, NearbyPktReader *reader, GError **error)
{
  g_autofree char *command = NULL;
  NearbyPktType type;

  if (!nearby_pkt_read (reader, &type, error))
    return FALSE;
  if (type != NEARBY_PKT_DATA || !g_str_has_prefix (reader->line, "command="))
    return refuse (error, "protocol error: expected a command");
  command = g_strdup (reader->line + 8);
  if (!read_v2_capabilities (reader, &type, error))
    return FALSE;

  if (strcmp (command, "ls-refs") == 0)
    return handle_ls_refs (plan, req, reader, type, error);
  if (strcmp (command, "fetch") == 0)
    return handle_fetch (plan, req, reader, type, error);
  return refuse (error, "unknown command '%.40s'", command);
}

NearbyPackPlan *
nearby_upload_pack_plan (const NearbyUploadTarget *target, gboolean v2, const guint8 *request,
                         gsize request_len)
{
  g_autoptr (NearbyPackPlan) plan = g_new0 (NearbyPackPlan, 1);
  g_auto (Request) req = { 0 };
  g_autofree NearbyPktReader *reader = g_new (NearbyPktReader, 1);
  g_autoptr (GError) error = NULL;

  plan->preamble = g_byte_array_new ();
  req.target = target;
  req.reach = target->reach != NULL ? nearby_reach_ref (target->reach) : NULL;
  req.wants = g_array_new (FALSE, FALSE, sizeof (git_oid));
  req.common = g_array_new (FALSE, FALSE, sizeof (git_oid));
  req.shallows = g_array_new (FALSE, FALSE, sizeof (git_oid));
  req.want_refs = g_ptr_array_new_with_free_func (g_free);
  req.seen = g_hash_table_new_full (nearby_oid_hash, nearby_oid_equal, g_free, NULL);
  req.shallow_set = g_hash_table_new_full (nearby_oid_hash, nearby_oid_equal, g_free, NULL);
  nearby_pkt_reader_init (reader, request, request_len);

  if (!(v2 ? handle_v2 (plan, &req, reader, &error) : handle_v0 (plan, &req, reader, &error)))
    {
      /* Whatever was prepared is dropped: the client gets the reason only. */
      g_byte_array_set_size (plan->preamble, 0);
      plan->send_pack = FALSE;
      plan->refusal = g_strdup (error->message);
      nearby_pkt_write (plan->preamble, "ERR %s\n", error->message);
    }
  if (req.search != NULL)
    g_debug ("negotiation: %u have(s), %u common, %" G_GUINT64_FORMAT " commits searched%s",
             req.n_haves, req.common->len, nearby_reach_search_visited (req.search),
             nearby_reach_search_exhausted (req.search) ? " (budget spent: not ready)" : "");
  return g_steal_pointer (&plan);
}
