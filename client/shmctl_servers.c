/*
 * client/shmctl_servers.c - shmctl servers [--json]: the unique-server
 * tracker's counts since mxcached started (struct mxc_servers).
 */
#include <stdio.h>

#include <json-c/json.h>

#include "mxcache.h"
#include "shmctl.h"

int sc_cmd_servers(const struct sc_ctx *c, char **av, int ac)
{
	struct mxc_servers sv;
	char t[32];
	mxc_t *h = NULL;
	int ex, rc, oom = 0;

	(void)av;
	(void)ac;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		return ex;
	rc = mxc_servers_get(h, &sv);
	mxc_close(h);
	if (rc == MXC_NOTFOUND) {
		fprintf(stderr, "no counts published yet (is mxcached running?)\n");
		return SC_NOTFOUND;
	}
	if (rc != MXC_OK) {
		sc_err("%s", mxc_strerror(rc));
		return SC_ERROR;
	}
	if (c->json) {
		struct json_object *o = json_object_new_object();

		sc_jint(o, "boot_time", sv.boot_time, &oom);
		sc_juint(o, "unique_conn_ips", sv.unique_conn_ips, &oom);
		sc_juint(o, "unique_domains", sv.unique_domains, &oom);
		sc_juint(o, "unique_ip_servers", sv.unique_ip_servers, &oom);
		return sc_json_print(o, oom);
	}
	printf("since:              %s\n", sc_iso_time(sv.boot_time, t, sizeof(t)));
	printf("connecting IPs:     %llu\n", (unsigned long long)sv.unique_conn_ips);
	printf("sender domains:     %llu\n", (unsigned long long)sv.unique_domains);
	printf("IP-literal senders: %llu\n", (unsigned long long)sv.unique_ip_servers);
	return SC_OK;
}
