/*
 * client/shmctl_complete.c - shmctl completion bash: a bash completion
 * script made from the command table main dispatches on, so a command
 * added to the table is completed without anyone editing a script.
 *
 * The script holds two lookup functions written from the table (the words
 * that may follow each run of command words; each command's options and
 * the values of its first argument) and one fixed function that walks the
 * words typed so far.  It needs nothing but bash: no bash-completion
 * helpers.
 */
#include <stdio.h>
#include <string.h>

#include "client/shmctl.h"

/* What a command word or value may hold: the script puts them inside
 * single quotes and case patterns, so nothing that means anything there. */
#define WORD_CHARS  "abcdefghijklmnopqrstuvwxyz0123456789-"
#define VALUE_CHARS WORD_CHARS " @"

static int same_prefix(const struct sc_command *a, const struct sc_command *b, int depth)
{
	int i;

	for (i = 0; i < depth; i++)
		if (a->words[i] == NULL || b->words[i] == NULL || strcmp(a->words[i], b->words[i]) != 0)
			return 0;
	return 1;
}

static void put_path(const struct sc_command *cmd, int depth)
{
	int i;

	for (i = 0; i < depth; i++)
		printf("%s%s", i ? " " : "", cmd->words[i]);
}

/* next_words - _shmctl_next: for every run of leading command words, the
 * words that may follow it, each once */
static void next_words(void)
{
	size_t k, j, m;
	int d, first;

	puts("# _shmctl_next PATH - the words that may follow the command words PATH\n"
	     "_shmctl_next()\n{\n\tcase $1 in");
	for (d = 0; d < SC_WORDS_MAX; d++) {
		for (k = 0; k < sc_ncommands; k++) {
			if (sc_commands[k].words[d] == NULL)
				continue;
			for (j = 0; j < k; j++)	/* this path was written already */
				if (sc_commands[j].words[d] != NULL && same_prefix(&sc_commands[j], &sc_commands[k], d))
					break;
			if (j < k)
				continue;
			fputs("\t'", stdout);
			put_path(&sc_commands[k], d);
			fputs("') echo '", stdout);
			first = 1;
			for (j = k; j < sc_ncommands; j++) {
				if (sc_commands[j].words[d] == NULL || !same_prefix(&sc_commands[j], &sc_commands[k], d))
					continue;
				for (m = k; m < j; m++)	/* each word once */
					if (sc_commands[m].words[d] != NULL &&
					    same_prefix(&sc_commands[m], &sc_commands[k], d) &&
					    strcmp(sc_commands[m].words[d], sc_commands[j].words[d]) == 0)
						break;
				if (m < j)
					continue;
				printf("%s%s", first ? "" : " ", sc_commands[j].words[d]);
				first = 0;
			}
			puts("' ;;");
		}
	}
	puts("\tesac\n}\n");
}

/* specs - _shmctl_spec: each command's options, '|', its first argument's values */
static void specs(void)
{
	static const struct {
		unsigned flag;
		const char *name;
	} options[] = { { SC_F_JSON, "--json" }, { SC_F_SORT, "--sort" }, { SC_F_VERBOSE, "--verbose" } };
	const struct sc_command *cmd;
	const char *sep;
	size_t k, i;
	int n;

	puts("# _shmctl_spec PATH - the options of the command PATH names, a '|', and\n"
	     "# the values of its first argument (\"" SC_ARG_FILE "\": a file name)\n"
	     "_shmctl_spec()\n{\n\tcase $1 in");
	for (k = 0; k < sc_ncommands; k++) {
		cmd = &sc_commands[k];
		for (n = 0; n < SC_WORDS_MAX && cmd->words[n] != NULL; n++)
			;
		fputs("\t'", stdout);
		put_path(cmd, n);
		fputs("') echo '", stdout);
		sep = "";
		for (i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
			if (cmd->flags & options[i].flag) {
				printf("%s%s", sep, options[i].name);
				sep = " ";
			}
		}
		printf("|%s' ;;\n", cmd->complete != NULL ? cmd->complete : "");
	}
	puts("\tesac\n}\n");
}

/* The walk: options and their values are skipped as main skips them;
 * the command words typed so far choose what comes next. */
static const char walker[] =
	"_shmctl()\n"
	"{\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev='' path='' spec next w i only_args=0\n"
	"\tlocal -a words=()\n"
	"\tCOMPREPLY=()\n"
	"\t((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	"\tcase $prev in\n"
	"\t-d | --dir)\n"
	"\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -d -- \"$cur\")\n"
	"\t\treturn 0\n"
	"\t\t;;\n"
	"\t--sort)\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -W '" SC_SORT_KEYS "' -- \"$cur\")\n"
	"\t\treturn 0\n"
	"\t\t;;\n"
	"\tesac\n"
	"\t# the words before the cursor, without the options and their values\n"
	"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tif ((!only_args)); then\n"
	"\t\t\tcase $w in\n"
	"\t\t\t--) only_args=1; continue ;;\n"
	"\t\t\t-d | --dir | --sort) ((i++)); continue ;;\n"
	"\t\t\t-?*) continue ;;\n"
	"\t\t\tesac\n"
	"\t\tfi\n"
	"\t\twords+=(\"$w\")\n"
	"\tdone\n"
	"\t# as many of them as are the words of a command, or its first words\n"
	"\tfor ((i = 0; i < ${#words[@]}; i++)); do\n"
	"\t\tnext=\" $(_shmctl_next \"$path\") \"\n"
	"\t\t[[ $next == *\" ${words[i]} \"* ]] || break\n"
	"\t\tpath=${path:+$path }${words[i]}\n"
	"\tdone\n"
	"\tspec=$(_shmctl_spec \"$path\")\n"
	"\tif [[ $cur == -* ]] && ((!only_args)); then\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -W \"-d --dir -h --help -- ${spec%%|*}\" -- \"$cur\")\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\t# past the first argument: nothing to offer\n"
	"\t((i < ${#words[@]})) && return 0\n"
	"\tnext=$(_shmctl_next \"$path\")\n"
	"\tif [[ -n $next ]]; then\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -W \"$next\" -- \"$cur\")\n"
	"\telif [[ ${spec#*|} == " SC_ARG_FILE " ]]; then\n"
	"\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n"
	"\telif [[ -n ${spec#*|} ]]; then\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -W \"${spec#*|}\" -- \"$cur\")\n"
	"\tfi\n"
	"\treturn 0\n"
	"}\n"
	"complete -F _shmctl shmctl\n";

/* table_ok - every word and value is one the script can hold as it is */
static int table_ok(void)
{
	const struct sc_command *cmd;
	size_t k;
	int i;

	for (k = 0; k < sc_ncommands; k++) {
		cmd = &sc_commands[k];
		for (i = 0; i < SC_WORDS_MAX && cmd->words[i] != NULL; i++)
			if (cmd->words[i][0] == '\0' || strspn(cmd->words[i], WORD_CHARS) != strlen(cmd->words[i]))
				return 0;
		if (cmd->complete != NULL && strspn(cmd->complete, VALUE_CHARS) != strlen(cmd->complete))
			return 0;
	}
	return 1;
}

int sc_cmd_completion(const struct sc_ctx *c, char **av, int ac)
{
	(void)c;
	(void)ac;
	if (strcmp(av[0], "bash") != 0) {
		sc_err("completion: only bash is offered, not '%s'", av[0]);
		return SC_USAGE;
	}
	if (!table_ok()) {
		sc_err("completion: a command word the script cannot hold as it is");
		return SC_ERROR;
	}
	puts("# bash completion for shmctl, made by \"shmctl completion bash\" from the\n"
	     "# command table the program dispatches on.  Installed as\n"
	     "# share/bash-completion/completions/shmctl; or source it.\n");
	next_words();
	specs();
	fputs(walker, stdout);
	return SC_OK;
}
