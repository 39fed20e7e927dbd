/*
 * client/shmctl_access.c - what to say after "Permission denied": which
 * group opens the file that was refused, read from the file itself (its
 * gid, named through the group database), and how this process stands
 * with that group.  "system error: Permission denied" alone leaves an
 * operator guessing between the region's group, the daemon's user and
 * [ctl] admin_group.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/shmctl.h"
#include "shm/path.h"

#define GROUPS_MAX 256		/* supplementary groups looked through */
#define NAME_LEN   64

/* group_name - "name (gid N)", or "gid N" when the database has none */
static const char *group_name(gid_t gid, char *buf, size_t len)
{
	struct group *gr = getgrgid(gid);

	if (gr != NULL)
		snprintf(buf, len, "'%s' (gid %lu)", gr->gr_name, (unsigned long)gid);
	else
		snprintf(buf, len, "gid %lu", (unsigned long)gid);
	return buf;
}

/* in_group - does this process have gid, as its own or a supplementary one? */
static int in_group(gid_t gid)
{
	gid_t g[GROUPS_MAX];
	int n, i;

	if (getegid() == gid)
		return 1;
	n = getgroups(GROUPS_MAX, g);
	for (i = 0; i < n; i++)
		if (g[i] == gid)
			return 1;
	return 0;
}

/* listed_in - is this user named among the group's members?  A user added
 * to a group keeps the groups of the login until the next one. */
static int listed_in(gid_t gid)
{
	struct passwd *pw = getpwuid(geteuid());
	char user[NAME_LEN];
	struct group *gr;
	char **m;

	if (pw == NULL || snprintf(user, sizeof user, "%s", pw->pw_name) >= (int)sizeof user)
		return 0;
	if ((gr = getgrgid(gid)) == NULL)
		return 0;
	for (m = gr->gr_mem; *m != NULL; m++)
		if (strcmp(*m, user) == 0)
			return 1;
	return 0;
}

void sc_access_hint(const char *path, const char *who)
{
	char gname[NAME_LEN + 32];
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == EACCES)
			sc_err("%s: a directory on the way to it is closed to you (search permission)", path);
		return;
	}
	group_name(st.st_gid, gname, sizeof gname);
	if (!in_group(st.st_gid) && listed_in(st.st_gid))
		sc_err("%s is open to group %s, which lists you, but this login does not have it yet: "
		       "log in again (or run newgrp)", path, gname);
	else if (!in_group(st.st_gid))
		sc_err("%s is open to group %s (mode %04o): %s", path, gname, (unsigned)(st.st_mode & 07777), who);
	else
		sc_err("%s is open to group %s, which you are in, but its mode is %04o", path, gname,
		       (unsigned)(st.st_mode & 07777));
}

void sc_region_denied(const struct sc_ctx *c)
{
	char path[MXS_SHM_PATH_MAX];
	struct stat st;

	if (stat(c->dir, &st) != 0) {
		sc_err("%s: %s", c->dir, strerror(errno));
		sc_access_hint(c->dir, "");
		return;
	}
	if (mxc_shm_path(path, sizeof path, mxc_shm_dir(), st.st_dev, st.st_ino, "data") != 0) {
		sc_err("%s: %s", c->dir, strerror(EACCES));
		return;
	}
	sc_err("%s: cannot read its region %s: %s", c->dir, path, strerror(EACCES));
	sc_access_hint(path, "reads need membership in it (mxcached's [region] group)");
}
