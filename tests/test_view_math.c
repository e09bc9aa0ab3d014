/* The viewer's geometry and display levels (gui/view_math.c, gui/pyramid.c,
 * gui/script.c): zoom about the pointer, pan limits, divider hit-testing,
 * photo <-> screen coordinates, levels of detail and texture tiling. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pyramid.h"
#include "script.h"
#include "view_math.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void test_fit_centres_and_scales(void **state)
{
    (void)state;
    /* a landscape photo in a squarer window: width limits, centred vertically */
    vm_view v = vm_fit(6000, 4000, 1200, 1000);
    NEAR(v.scale, 0.2);
    NEAR(v.tx, 0.0);
    NEAR(v.ty, (1000 - 800) / 2.0);
    /* a small photo is enlarged to fit (up to VM_MAX_SCALE) */
    NEAR(vm_fit_scale(640, 400, 1280, 1000), 2.0);
    NEAR(vm_fit_scale(2, 2, 1000, 1000), (double)VM_MAX_SCALE);
}

static void test_coordinates_round_trip(void **state)
{
    (void)state;
    vm_view v = {2.5, -100.0, 30.0};
    double sx, sy, ix, iy;
    vm_image_to_screen(&v, 40.0, 12.0, &sx, &sy);
    NEAR(sx, 0.0);
    NEAR(sy, 60.0);
    vm_screen_to_image(&v, sx, sy, &ix, &iy);
    NEAR(ix, 40.0);
    NEAR(iy, 12.0);
}

static void test_zoom_keeps_the_point_under_the_pointer(void **state)
{
    (void)state;
    int iw = 4000, ih = 3000, aw = 1000, ah = 800;
    vm_view v = vm_fit(iw, ih, aw, ah);
    double px = 700.0, py = 300.0, before_x, before_y, after_x, after_y;
    vm_screen_to_image(&v, px, py, &before_x, &before_y);
    vm_zoom_at(&v, 1.5, px, py, iw, ih, aw, ah);
    NEAR(v.scale, 1.5);
    vm_screen_to_image(&v, px, py, &after_x, &after_y);
    NEAR(after_x, before_x);
    NEAR(after_y, before_y);
    /* zooming out past the limit stops at half the fit; in, at VM_MAX_SCALE */
    vm_zoom_at(&v, 1e-6, px, py, iw, ih, aw, ah);
    NEAR(v.scale, 0.5 * vm_fit_scale(iw, ih, aw, ah));
    vm_zoom_at(&v, 1e6, px, py, iw, ih, aw, ah);
    NEAR(v.scale, (double)VM_MAX_SCALE);
    vm_zoom_at(&v, NAN, px, py, iw, ih, aw, ah);
    assert_true(v.scale > 0.0 && isfinite(v.scale));
}

static void test_zoom_near_an_edge_is_clamped(void **state)
{
    (void)state;
    /* zooming about the top-left corner cannot show space left of or above the photo */
    int iw = 4000, ih = 3000, aw = 1000, ah = 800;
    vm_view v = vm_fit(iw, ih, aw, ah);
    vm_zoom_at(&v, 2.0, 0.0, 0.0, iw, ih, aw, ah);
    assert_true(v.tx <= 0.0 && v.ty <= 0.0);
    assert_true(v.tx >= aw - iw * v.scale && v.ty >= ah - ih * v.scale);
}

static void test_pan_limits(void **state)
{
    (void)state;
    int iw = 2000, ih = 1000, aw = 800, ah = 600;
    vm_view v = {1.0, 0.0, 0.0};
    vm_pan(&v, 500.0, 500.0, iw, ih, aw, ah); /* past the top-left: stops with no margin */
    NEAR(v.tx, 0.0);
    NEAR(v.ty, 0.0);
    vm_pan(&v, -1e6, -1e6, iw, ih, aw, ah); /* past the bottom-right */
    NEAR(v.tx, aw - (double)iw);
    NEAR(v.ty, ah - (double)ih);
    vm_pan(&v, 100.0, 50.0, iw, ih, aw, ah); /* inside the range: moves by exactly that */
    NEAR(v.tx, aw - (double)iw + 100.0);
    NEAR(v.ty, ah - (double)ih + 50.0);
    /* an axis where the photo is smaller than the area stays centred */
    vm_view small = {0.25, 0.0, 0.0};
    vm_pan(&small, 300.0, -300.0, iw, ih, aw, ah);
    NEAR(small.tx, (aw - iw * 0.25) / 2.0);
    NEAR(small.ty, (ah - ih * 0.25) / 2.0);
}

static void test_divider(void **state)
{
    (void)state;
    /* a photo wider than the area: the divider spans the area's width */
    vm_view wide = {1.0, -300.0, 0.0};
    assert_int_equal(vm_divider_x(&wide, 2000, 1001, 0.5), 501);
    assert_int_equal(vm_divider_x(&wide, 2000, 800, 0.0), 0);
    assert_int_equal(vm_divider_x(&wide, 2000, 800, 1.0), 800);
    assert_true(vm_divider_hit(&wide, 2000, 800, 0.25, 200.0, 6.0));
    assert_true(vm_divider_hit(&wide, 2000, 800, 0.25, 206.0, 6.0));
    assert_false(vm_divider_hit(&wide, 2000, 800, 0.25, 207.0, 6.0));
    assert_false(vm_divider_hit(&wide, 2000, 800, 0.25, 193.5, 6.0));
    NEAR(vm_divider_from_x(&wide, 2000, 800, 200.0), 0.25);
    NEAR(vm_divider_from_x(&wide, 2000, 800, -50.0), 0.0);
    NEAR(vm_divider_from_x(&wide, 2000, 800, 5000.0), 1.0);
}

static void test_divider_stays_over_a_portrait_photo(void **state)
{
    (void)state;
    /* 400 x 1000 fitted in 1000 x 700: 280 columns from 360 to 640 */
    int iw = 400, ih = 1000, aw = 1000, ah = 700;
    vm_view v = vm_fit(iw, ih, aw, ah);
    double x0, x1;
    vm_photo_columns(&v, iw, aw, &x0, &x1);
    NEAR(x0, 360.0);
    NEAR(x1, 640.0);
    assert_int_equal(vm_divider_x(&v, iw, aw, 0.8), 584); /* not 800, right of the photo */
    assert_int_equal(vm_divider_x(&v, iw, aw, 0.0), 360);
    assert_int_equal(vm_divider_x(&v, iw, aw, 1.0), 640);
    NEAR(vm_divider_from_x(&v, iw, aw, 584.0), 0.8);
    NEAR(vm_divider_from_x(&v, iw, aw, 100.0), 0.0);
    NEAR(vm_divider_from_x(&v, iw, aw, 900.0), 1.0);
    assert_true(vm_divider_hit(&v, iw, aw, 0.8, 590.0, 6.0));
    assert_false(vm_divider_hit(&v, iw, aw, 0.8, 800.0, 6.0));
}

static void test_handle_leaves_a_small_photo_visible(void **state)
{
    (void)state;
    int aw = 1000, ah = 600, hh = 28;
    /* a 16 x 16 photo at 100%: rows 292 to 308; the handle lies below them */
    vm_view v = {1.0, 0.0, 0.0};
    vm_clamp(&v, 16, 16, aw, ah);
    int y = vm_handle_y(&v, 16, ah, hh);
    assert_true(y >= 308 || y + hh <= 292);
    assert_true(y >= 0 && y + hh <= ah);
    /* a photo as tall as the area: half way down, as before */
    vm_view fit = vm_fit(800, 600, aw, ah);
    assert_int_equal(vm_handle_y(&fit, 600, ah, hh), ah / 2 - hh / 2);
    /* a short photo at the bottom edge: the handle goes above it */
    vm_view low = {1.0, 0.0, 590.0};
    y = vm_handle_y(&low, 10, ah, hh);
    assert_true(y + hh <= 590 && y >= 0);
}

static void test_level_choice(void **state)
{
    (void)state;
    assert_int_equal(vm_level_for_scale(1.0, 6), 0);
    assert_int_equal(vm_level_for_scale(0.6, 6), 0);  /* 1.7 photo pixels a screen pixel: bilinear is enough */
    assert_int_equal(vm_level_for_scale(0.5, 6), 1);
    assert_int_equal(vm_level_for_scale(0.26, 6), 1);
    assert_int_equal(vm_level_for_scale(0.25, 6), 2);
    assert_int_equal(vm_level_for_scale(0.01, 3), 2); /* never past the coarsest */
    assert_int_equal(vm_level_side(6000, 1), 3000);
    assert_int_equal(vm_level_side(4001, 2), 1001);   /* ceil at each halving: 2001, then 1001 */
    /* at every scale, the chosen level has between 1 and 2 of its pixels a screen pixel */
    for (double s = 0.02; s <= 1.0; s *= 1.07) {
        int k = vm_level_for_scale(s, PYR_MAX_LEVELS);
        double per_screen = 1.0 / (s * (1 << k));
        assert_true(per_screen <= 2.0 && (k == 0 || per_screen >= 1.0));
    }
}

static void test_tiles_cover_each_pixel_once(void **state)
{
    (void)state;
    int w = 5000, h = 3001, tile = 2048;
    int across = vm_tiles_across(w, tile), down = vm_tiles_across(h, tile);
    assert_int_equal(across, 3);
    assert_int_equal(down, 2);
    unsigned char *hits = calloc((size_t)w * h, 1);
    for (int i = 0; i < across * down; i++) {
        vm_rect r = vm_tile_rect(w, h, tile, i);
        assert_true(r.w > 0 && r.h > 0 && r.w <= tile && r.h <= tile);
        for (int y = r.y; y < r.y + r.h; y++)
            for (int x = r.x; x < r.x + r.w; x++) hits[(size_t)y * w + x]++;
    }
    for (size_t i = 0; i < (size_t)w * h; i++) assert_int_equal(hits[i], 1);
    free(hits);
}

static void test_visible_tiles(void **state)
{
    (void)state;
    /* 100% on a 6000 x 4000 photo, 1000 x 800 window at photo (2500, 1900):
     * level 0 tiles of 1024 -> x from 2500 to 3500 spans tiles 2..3, y 1900..2700 spans 1..2 */
    vm_view v = {1.0, -2500.0, -1900.0};
    int x0, y0, x1, y1;
    vm_visible_tiles(&v, 6000, 4000, 6000, 4000, 1024, 1000, 800, &x0, &y0, &x1, &y1);
    assert_int_equal(x0, 2);
    assert_int_equal(x1, 4);
    assert_int_equal(y0, 1);
    assert_int_equal(y1, 3);
    /* fitted, at level 3 (750 x 500): everything, one tile */
    vm_view fit = vm_fit(6000, 4000, 1000, 800);
    vm_visible_tiles(&fit, 6000, 4000, 750, 500, 1024, 1000, 800, &x0, &y0, &x1, &y1);
    assert_int_equal(x1 - x0, 1);
    assert_int_equal(y1 - y0, 1);
    /* a photo moved right off the area shows nothing */
    vm_view away = {1.0, 5000.0, 0.0};
    vm_visible_tiles(&away, 6000, 4000, 6000, 4000, 1024, 1000, 800, &x0, &y0, &x1, &y1);
    assert_int_equal(x1 - x0, 0);
}

static void test_level_rect_maps_the_whole_photo(void **state)
{
    (void)state;
    /* a level's last tile ends exactly at the photo's edge, odd sides included */
    vm_view v = {0.5, 10.0, 20.0};
    int iw = 4001, ih = 3001, lw = vm_level_side(iw, 2), lh = vm_level_side(ih, 2);
    vm_rect last = vm_tile_rect(lw, lh, 512, vm_tiles_across(lw, 512) * vm_tiles_across(lh, 512) - 1);
    double sx, sy, sw, sh;
    vm_level_rect_on_screen(&v, iw, ih, lw, lh, last, &sx, &sy, &sw, &sh);
    NEAR(sx + sw, 10.0 + iw * 0.5);
    NEAR(sy + sh, 20.0 + ih * 0.5);
}

static void test_pyramid_levels_average(void **state)
{
    (void)state;
    int w = 600, h = 301; /* odd height: the last row averages with itself */
    float *rgb = malloc(3 * (size_t)w * h * sizeof(float));
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) rgb[((size_t)c * h + y) * w + x] = (float)((x + 2 * y + 7 * c) % 13) / 12.0f;
    pyramid p;
    assert_int_equal(pyramid_build(&p, rgb, NULL, w, h), 0);
    assert_int_equal(p.levels, 3); /* 600 -> 300 -> 150, the first at most 256 */
    assert_int_equal(p.level[1].w, 300);
    assert_int_equal(p.level[1].h, 151);
    const pyr_level *l1 = &p.level[1];
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < l1->h; y++)
            for (int x = 0; x < l1->w; x++) {
                int y1 = 2 * y + 1 < h ? 2 * y + 1 : 2 * y;
                const float *s = rgb + (size_t)c * w * h;
                float want = 0.25f * (s[2 * y * w + 2 * x] + s[2 * y * w + 2 * x + 1] + s[y1 * w + 2 * x] +
                                      s[y1 * w + 2 * x + 1]);
                assert_true(fabsf(l1->rgb[((size_t)c * l1->h + y) * l1->w + x] - want) < 1e-6f);
            }
    pyramid_free(&p);
    free(rgb);
}

static void test_display_blend(void **state)
{
    (void)state;
    /* 8-bit pixels: strength 0 is the original exactly, 1 the network's
     * output clamped, and between them the library's formula */
    int w = 4, h = 2;
    float o[24], n[24];
    for (int i = 0; i < 24; i++) {
        o[i] = (float)i / 23.0f;
        n[i] = 1.3f - 1.6f * o[i]; /* runs out of [0, 1] at both ends */
    }
    pyramid po, pn;
    assert_int_equal(pyramid_build(&po, o, NULL, w, h), 0);
    assert_int_equal(pyramid_build(&pn, n, NULL, w, h), 0);
    uint8_t px[4 * 8], orig[4 * 8];
    vm_rect r = {0, 0, w, h};
    pyramid_rgba(&po, NULL, 0.0f, 0, r, orig, 4 * w);
    pyramid_rgba(&po, &pn, 0.0f, 0, r, px, 4 * w);
    assert_memory_equal(px, orig, sizeof px);
    const float strengths[] = {0.4f, 1.0f};
    for (int k = 0; k < 2; k++) {
        float s = strengths[k];
        pyramid_rgba(&po, &pn, s, 0, r, px, 4 * w);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 8; i++) {
                float v = o[c * 8 + i] + s * (n[c * 8 + i] - o[c * 8 + i]);
                v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
                assert_int_equal(px[4 * i + c], (int)(v * 255.0f + 0.5f));
                assert_int_equal(px[4 * i + 3], 255);
            }
    }
    /* a rectangle inside the level: rows land pitch bytes apart */
    uint8_t sub[2 * 16];
    memset(sub, 0xAB, sizeof sub);
    pyramid_rgba(&po, NULL, 0.0f, 0, (vm_rect){1, 1, 2, 1}, sub, 16);
    assert_memory_equal(sub, orig + 4 * (w + 1), 8);
    assert_int_equal(sub[8], 0xAB);
    pyramid_free(&po);
    pyramid_free(&pn);
}

static void test_script_actions(void **state)
{
    (void)state;
    script_action a;
    char err[256];
    assert_int_equal(script_parse_set("divider=0.25", &a, err, sizeof err), 0);
    assert_int_equal(a.kind, ACT_DIVIDER);
    NEAR(a.a, 0.25);
    assert_int_equal(script_parse_set("zoom=fit", &a, err, sizeof err), 0);
    NEAR(a.a, 0.0);
    assert_int_equal(script_parse_set("zoom=2", &a, err, sizeof err), 0);
    NEAR(a.a, 2.0);
    assert_int_equal(script_parse_set("center=120,80.5", &a, err, sizeof err), 0);
    NEAR(a.a, 120.0);
    NEAR(a.b, 80.5);
    assert_int_equal(script_parse_set("size=800x600", &a, err, sizeof err), 0);
    assert_int_equal(script_parse_set("next", &a, err, sizeof err), 0);
    assert_int_equal(a.kind, ACT_NEXT);
    /* refused, with a reason naming the action */
    const char *bad[] = {"divider=1.5", "divider=", "zoom=0", "zoom=big", "center=3", "strength=-0.1",
                         "mode=fancy",  "flash=2",  "next=1", "size=10x10", "save=x.png", "colour=red"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(script_parse_set(bad[i], &a, err, sizeof err), -1);
        assert_true(strlen(err) > 10);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_centres_and_scales),
        cmocka_unit_test(test_coordinates_round_trip),
        cmocka_unit_test(test_zoom_keeps_the_point_under_the_pointer),
        cmocka_unit_test(test_zoom_near_an_edge_is_clamped),
        cmocka_unit_test(test_pan_limits),
        cmocka_unit_test(test_divider),
        cmocka_unit_test(test_divider_stays_over_a_portrait_photo),
        cmocka_unit_test(test_handle_leaves_a_small_photo_visible),
        cmocka_unit_test(test_level_choice),
        cmocka_unit_test(test_tiles_cover_each_pixel_once),
        cmocka_unit_test(test_visible_tiles),
        cmocka_unit_test(test_level_rect_maps_the_whole_photo),
        cmocka_unit_test(test_pyramid_levels_average),
        cmocka_unit_test(test_display_blend),
        cmocka_unit_test(test_script_actions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
