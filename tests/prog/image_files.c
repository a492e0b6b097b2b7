/*
 * image_files.c - a program imaged while it reads one file and writes
 * another (tests/image_files.sh).
 *
 *   image_files IMAGE IN OUT
 * chdir()s into the directory of IN, sets its umask, installs a SIGUSR1
 * handler, reads half of IN's lines through stdio (which reads ahead far
 * past them), writing each upper-cased to OUT, then calls pm_image(IMAGE);
 * after it, it reads the rest of IN, writes them, raises SIGUSR1 and
 * reports.  With STOP=1 it ends right after writing the image.  A resume
 * must read IN's current contents from where the program had got to, and
 * leave OUT as an uninterrupted run over the same input would.
 */
#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <pmalloc.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	(void)sig;
	got++;
}

static void copy_line(FILE *out, const char *line)
{
	for (const char *p = line; *p; p++)
		fputc(toupper((unsigned char)*p), out);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: image_files IMAGE IN OUT\n");
		return 2;
	}
	int stop = getenv("STOP") != NULL;
	char img[4096];
	if (argv[1][0] == '/')
		snprintf(img, sizeof img, "%s", argv[1]);
	else if (!getcwd(img, sizeof img - strlen(argv[1]) - 2))
		return 2;
	else
		strcat(strcat(img, "/"), argv[1]);
	char *slash = strrchr(argv[2], '/');
	if (slash) { /* work in IN's directory: IN and OUT relative to it */
		*slash = '\0';
		if (chdir(argv[2]) != 0)
			return 2;
		argv[2] = slash + 1;
	}
	umask(027);
	signal(SIGUSR1, on_usr1);
	FILE *in = fopen(argv[2], "r"), *out = fopen(argv[3], "w");
	if (!in || !out)
		return 3;
	char line[256];
	int n = 0;
	while (n < 20 && fgets(line, sizeof line, in)) {
		copy_line(out, line);
		n++;
	}
	int rc = pm_image(img);
	fprintf(stderr, "pm_image = %d%s%s\n", rc, rc < 0 ? ": " : "",
		rc < 0 ? pm_errmsg() : "");
	if (rc < 0)
		return 4;
	if (rc == 0 && stop)
		_exit(0);
	while (fgets(line, sizeof line, in)) {
		copy_line(out, line);
		n++;
	}
	raise(SIGUSR1);
	fprintf(out, "lines %d, signal %d, umask %03o\n", n, (int)got,
		(unsigned)umask(0));
	fclose(out);
	fclose(in);
	int fd = open("created-after", O_CREAT | O_WRONLY, 0666);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		return 5;
	printf("created-after mode %03o\n", (unsigned)(st.st_mode & 0777));
	return 0;
}
