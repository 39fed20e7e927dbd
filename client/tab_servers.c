/*
 * client/tab_servers.c - the unique-server tracker.
 */
#include "internal.h"

/* ---- unique-server tracker ---------------------------------------------------------- */

int mxc_record_server(mxc_t *h, const char *conn_ip, const char *sender_domain)
{
	char ip[MXK_MAX_LEN + 1], dom[MXK_MAX_LEN + 1], both[MXS_EV_NAME_MAX + 1];
	size_t il, dl = 0;
	int kind;

	if (h == NULL || conn_ip == NULL || mxk_normalize(conn_ip, ip, sizeof(ip), &il, &kind) != MXK_OK ||
	    kind == MXK_DOMAIN)
		return MXC_EINVAL;
	if (sender_domain != NULL && sender_domain[0] != '\0' &&
	    mxk_normalize(sender_domain, dom, sizeof(dom), &dl, NULL) != MXK_OK)
		return MXC_EINVAL;
	if (il + 1 + dl > MXS_EV_NAME_MAX)
		return MXC_EINVAL;
	memcpy(both, ip, il);
	both[il] = ' ';
	memcpy(both + il + 1, dom, dl);
	return ev_post_aux(h, MXS_EV_SERVER, 0, both, il + 1 + dl, 0);
}

static int servers_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct mxc_servers *out = arg;
	struct mxc_tab_ent e;
	uint64_t v[4];
	int rc;

	rc = mxc_tab_find(m->base, m->lim, &root->r_tab[MXS_TAB_SERVERS], MXS_TAB_SERVERS,
			  mxc_tab_hash(m->hdr, MXS_SERVERS_KEY, 1), MXS_SERVERS_KEY, 1, &e);
	if (rc == MXS_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXS_TAB_ABSENT)
		return MXC_NOTFOUND;
	if (mxc_servers_decode(e.val, e.vlen, v) != 0)
		return MXC_ECORRUPT;
	out->boot_time = (int64_t)v[0];
	out->unique_conn_ips = v[1];
	out->unique_domains = v[2];
	out->unique_ip_servers = v[3];
	return MXC_OK;
}

int mxc_servers_get(mxc_t *h, struct mxc_servers *out)
{
	if (h == NULL || out == NULL)
		return MXC_EINVAL;
	return with_read(h, servers_read, out);
}
