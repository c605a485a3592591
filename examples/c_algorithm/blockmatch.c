/* blockmatch: PIV by direct normalised cross-correlation of interrogation windows, with a
 * three-point parabolic fit of the peak. A tiny example of an executable pivfleet wraps
 * (examples/c_algorithm/algorithm.cwl.yml); it knows nothing of pivfleet.
 *
 *   blockmatch FRAME_A.pgm FRAME_B.pgm --window W --step S --search R --out vectors.txt
 *
 * Reads two binary PGM (P5) frames, 8- or 16-bit. Writes OpenPIV's text columns
 * (x y u v flags mask, as openpiv.tools.save writes them after transform_coordinates: y and v
 * point up), one vector per window whose top-left pixel is (i * S, j * S).
 * Exit codes (sysexits.h): 64 bad arguments, 65 unusable frames (permanent for pivfleet),
 * 75 out of memory (retried). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EX_USAGE = 64, EX_DATAERR = 65, EX_TEMPFAIL = 75 };

typedef struct {
    int width, height;
    double *pixels;
} image_t;

static int read_pgm(const char *path, image_t *image) {
    FILE *file = fopen(path, "rb");
    char magic[3] = {0};
    int maxval = 0;
    if (!file) {
        fprintf(stderr, "blockmatch: cannot open %s\n", path);
        return EX_DATAERR;
    }
    if (fscanf(file, "%2s %d %d %d", magic, &image->width, &image->height, &maxval) != 4 ||
        strcmp(magic, "P5") != 0 || maxval <= 0 || maxval > 65535 || image->width <= 0 ||
        image->height <= 0) {
        fprintf(stderr, "blockmatch: %s is not a binary PGM (P5)\n", path);
        fclose(file);
        return EX_DATAERR;
    }
    fgetc(file); /* the single whitespace before the raster */
    size_t count = (size_t)image->width * (size_t)image->height;
    image->pixels = malloc(count * sizeof(double));
    if (!image->pixels) {
        fclose(file);
        return EX_TEMPFAIL;
    }
    for (size_t k = 0; k < count; k++) {
        int high = fgetc(file), low = maxval > 255 ? fgetc(file) : 0;
        if (high == EOF || low == EOF) {
            fprintf(stderr, "blockmatch: %s ends early\n", path);
            fclose(file);
            return EX_DATAERR;
        }
        image->pixels[k] = maxval > 255 ? high * 256 + low : high;
    }
    fclose(file);
    return 0;
}

/* Normalised correlation of A's window at (y, x) with B's at (y + dy, x + dx); -2 outside. */
static double correlate(const image_t *a, const image_t *b, int y, int x, int dy, int dx,
                        int window) {
    if (y + dy < 0 || x + dx < 0 || y + dy + window > b->height || x + dx + window > b->width)
        return -2.0;
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, n = (double)window * window;
    for (int r = 0; r < window; r++) {
        const double *pa = a->pixels + (size_t)(y + r) * a->width + x;
        const double *pb = b->pixels + (size_t)(y + dy + r) * b->width + x + dx;
        for (int c = 0; c < window; c++) {
            sa += pa[c], sb += pb[c], saa += pa[c] * pa[c], sbb += pb[c] * pb[c];
            sab += pa[c] * pb[c];
        }
    }
    double va = saa - sa * sa / n, vb = sbb - sb * sb / n;
    return va > 0 && vb > 0 ? (sab - sa * sb / n) / sqrt(va * vb) : -2.0;
}

/* Sub-pixel offset of a peak from its two neighbours (0 when a neighbour is missing). */
static double parabola(double left, double centre, double right) {
    double curvature = left - 2 * centre + right;
    if (left < -1.5 || right < -1.5 || curvature >= 0) return 0.0;
    return 0.5 * (left - right) / curvature;
}

static void match(const image_t *a, const image_t *b, int y, int x, int window, int search,
                  double *u, double *v) {
    double best = -2.0;
    int by = 0, bx = 0;
    for (int dy = -search; dy <= search; dy++)
        for (int dx = -search; dx <= search; dx++) {
            double score = correlate(a, b, y, x, dy, dx, window);
            if (score > best) best = score, by = dy, bx = dx;
        }
    if (best < -1.5) {
        *u = *v = NAN;
        return;
    }
    *u = bx + parabola(correlate(a, b, y, x, by, bx - 1, window), best,
                       correlate(a, b, y, x, by, bx + 1, window));
    *v = by + parabola(correlate(a, b, y, x, by - 1, bx, window), best,
                       correlate(a, b, y, x, by + 1, bx, window));
}

int main(int argc, char **argv) {
    const char *paths[2] = {0}, *out = "vectors.txt";
    int window = 32, step = 16, search = 8, files = 0;
    for (int k = 1; k < argc; k++) {
        if (k + 1 < argc && strcmp(argv[k], "--window") == 0) window = atoi(argv[++k]);
        else if (k + 1 < argc && strcmp(argv[k], "--step") == 0) step = atoi(argv[++k]);
        else if (k + 1 < argc && strcmp(argv[k], "--search") == 0) search = atoi(argv[++k]);
        else if (k + 1 < argc && strcmp(argv[k], "--out") == 0) out = argv[++k];
        else if (files < 2 && argv[k][0] != '-') paths[files++] = argv[k];
        else {
            fprintf(stderr, "blockmatch: unexpected argument %s\n", argv[k]);
            return EX_USAGE;
        }
    }
    if (files != 2 || window < 4 || step < 1 || search < 1) {
        fprintf(stderr, "usage: blockmatch A.pgm B.pgm --window W --step S --search R\n");
        return EX_USAGE;
    }
    image_t a, b;
    int status = read_pgm(paths[0], &a);
    if (status == 0) status = read_pgm(paths[1], &b);
    if (status != 0) return status;
    if (a.width != b.width || a.height != b.height || a.width < window || a.height < window) {
        fprintf(stderr, "blockmatch: frames %dx%d and %dx%d: equal sizes of at least one "
                "%d px window needed\n", a.width, a.height, b.width, b.height, window);
        return EX_DATAERR;
    }
    int rows = (a.height - window) / step + 1, cols = (a.width - window) / step + 1;
    FILE *file = fopen(out, "w");
    if (!file) return EX_TEMPFAIL;
    fprintf(file, "# x\ty\tu\tv\tflags\tmask\n");
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            double u, v;
            match(&a, &b, i * step, j * step, window, search, &u, &v);
            /* OpenPIV's transform_coordinates: row i gets the y of row rows-1-i, v up. */
            fprintf(file, "%.4e\t%.4e\t%.4e\t%.4e\t%d\t0\n", j * step + window / 2.0,
                    (rows - 1 - i) * step + window / 2.0, u, -v, isnan(u) ? 2 : 0);
        }
    fprintf(stdout, "blockmatch: %d x %d vectors\n", rows, cols);
    return fclose(file) == 0 ? 0 : EX_TEMPFAIL;
}
