"""sagalux-view end to end, under Xvfb: the viewer is started on a sample and
driven by its scripted mode (--set, --screenshot); the screenshots are checked
against each other and against the photo. Run by ctest as
    test_viewer.py VIEWER CLI SAMPLE MODEL
Under CI (CI set) a missing xvfb-run is a failure; elsewhere a skip (77)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyrequire  # noqa: E402

pyrequire.require("numpy", "PIL")
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

VIEWER, CLI, SAMPLE, MODEL = sys.argv[1:5]
del sys.argv[1:5]
# Runs that check drawing only use the golden test's tiny random network
# (its output is nearly black, but fast even in CI's ASan build); those that
# need a real enhancement use the shipped model on the sample at a quarter size.
TINY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "golden_tiny.sglx")
W, H = 1000, 700  # the window; Xvfb and the software renderer give one pixel a coordinate
# Under ASan (CI's test build), leak checking is off for the viewer: LeakSanitizer
# reports a few allocations of libraries SDL loads and unloads itself (dbus, the
# X and GL drivers), whose stacks it cannot name once they are unloaded, so no
# suppression can match them. Overflows and use-after-free are still caught.
os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
BAR_COLOUR = (24, 24, 24)
WORK = tempfile.mkdtemp(prefix="sagalux-view-test-")


def xvfb_run(*screen):
    """xvfb-run with an X authority file of our own: without one it makes a
    temporary folder and, when removing it fails at exit, exits 5 in place of
    the program's status (seen once in CI: a flaky failure of a passing run)."""
    fd, auth = tempfile.mkstemp(prefix="xauth-", dir=WORK)
    os.close(fd)
    return ["xvfb-run", "-a", "-f", auth] + (["-s", screen[0]] if screen else [])


def run_viewer(photos, *actions, tile=None, expect=0, size=(W, H), model=MODEL, config=None, device="cpu"):
    """Runs the viewer on photos with actions (a list of ('--set', 'x=y') or
    ('--screenshot', name)); returns {name: RGB array} and stderr. With
    config, the settings are read from that XDG_CONFIG_HOME; with device
    None, no --device is given."""
    args = [VIEWER, "-v", "-m", model, "--size", f"{size[0]}x{size[1]}"]
    args += ["--no-settings"] if config is None else []
    args += ["-d", device] if device else []
    if tile:
        args += ["--tile", str(tile)]
    shots = []
    for flag, value in actions:
        if flag == "--screenshot":
            value = os.path.join(WORK, value + ".png")
            shots.append(value)
        args += [flag, value]
    args += photos
    env = dict(os.environ, SDL_RENDER_DRIVER="software", XDG_CONFIG_HOME=config or os.path.join(WORK, "config"))
    p = subprocess.run(xvfb_run("-screen 0 1280x1024x24") + args, env=env,
                       capture_output=True, text=True, timeout=600)
    if p.returncode != expect:
        raise AssertionError(f"viewer exit {p.returncode}, expected {expect}\n{p.stderr}")
    out = {}
    for path in shots:
        out[os.path.basename(path)[:-4]] = np.asarray(Image.open(path).convert("RGB")).astype(np.int16)
    return out, p.stderr


def view_height(shot):
    """Rows above the status bar (the bar's colour runs up its left margin)."""
    y = shot.shape[0] - 1
    while y > 0 and np.all(shot[y, 0:4] == BAR_COLOUR):
        y -= 1
    return y + 1


def photo_box(shot_original, vh):
    """Columns and rows the fitted photo covers (the background is 40, 40, 40;
    rows under the side labels are left out)."""
    area = shot_original[40:vh]
    not_bg = np.any(area != 40, axis=2)
    cols, rows = np.where(not_bg.any(axis=0))[0], np.where(not_bg.any(axis=1))[0]
    return cols[0], cols[-1] + 1, rows[0] + 40, rows[-1] + 1 + 40


def small_photos():
    """WORK/photos: the sample at a quarter size as a_small.png, and its mirror
    image, the same size, as b_mirror.png; returns their pixels."""
    folder = os.path.join(WORK, "photos")
    if not os.path.isdir(folder):
        os.makedirs(folder)
        im = Image.open(SAMPLE).convert("RGB")
        im = im.resize((im.width // 4, im.height // 4), Image.BILINEAR)
        im.save(os.path.join(folder, "a_small.png"))
        im.transpose(Image.FLIP_LEFT_RIGHT).save(os.path.join(folder, "b_mirror.png"))
    load = lambda n: np.asarray(Image.open(os.path.join(folder, n))).astype(np.int16)  # noqa: E731
    return folder, load("a_small.png"), load("b_mirror.png")


def divider_columns(shot, vh):
    """The columns the divider's bright line covers over the whole view."""
    return np.where(np.all(shot[:vh].min(axis=2) > 150, axis=0))[0]


def luma(a):
    return (0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]).mean()


class ViewerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("xvfb-run") is None:
            if os.environ.get("CI"):
                raise AssertionError("xvfb-run missing; .ci/install-deps --test should have installed xvfb")
            print("SKIP: needs xvfb-run (.ci/install-deps --test installs xvfb)")
            sys.exit(77)
        # One run, many pictures: the network runs once per photo.
        folder, cls.photo, cls.mirror = small_photos()
        cls.shots, cls.log = run_viewer(
            [os.path.join(folder, "a_small.png")],
            ("--set", "mode=original"), ("--screenshot", "original"),
            ("--set", "mode=enhanced"), ("--screenshot", "enhanced"),
            ("--set", "mode=split"), ("--set", "divider=0.3"), ("--screenshot", "split30"),
            ("--set", "flash=1"), ("--screenshot", "flash"), ("--set", "flash=0"),
            ("--set", "strength=0.5"), ("--set", "mode=enhanced"), ("--screenshot", "half"),
            ("--set", "strength=0"), ("--screenshot", "strength0"),
            ("--set", "mode=split"), ("--set", "divider=0.6"), ("--screenshot", "split60_s0"),
            ("--set", "mode=side"), ("--screenshot", "side_s0"),
            ("--set", "strength=1"), ("--set", "mode=original"), ("--set", "zoom=8"),
            ("--set", "center=80,50"), ("--screenshot", "zoom800"),
            ("--set", "next"), ("--screenshot", "next800"), ("--set", "prev"),
            ("--set", "zoom=fit"), ("--screenshot", "refit"),
        )
        cls.vh = view_height(cls.shots["original"])
        cls.box = photo_box(cls.shots["original"], cls.vh)

    def region(self, name, x0, x1, top=40):
        """Rows top..vh of columns x0..x1 (below the side labels)."""
        return self.shots[name][top:self.vh, x0:x1]

    def test_layout(self):
        # a status bar, and the photo fitted: as tall as the view, centred, its shape kept
        self.assertTrue(600 < self.vh < H - 20, self.vh)
        x0, x1, y0, y1 = self.box
        self.assertEqual(y1, self.vh)
        ph, pw = self.photo.shape[:2]
        self.assertAlmostEqual((x1 - x0) / self.vh, pw / ph, delta=0.01)
        self.assertLessEqual(abs(x0 - (W - x1)), 1)

    def test_enhanced_is_brighter_than_the_original(self):
        x0, x1, y0, y1 = self.box
        o = self.shots["original"][y0 + 40:y1, x0:x1]
        e = self.shots["enhanced"][y0 + 40:y1, x0:x1]
        self.assertGreater(luma(e), luma(o) + 40, "the enhanced view should be much brighter than a dark photo")
        h = self.shots["half"][y0 + 40:y1, x0:x1]
        self.assertTrue(luma(o) + 10 < luma(h) < luma(e) - 10, "strength 0.5 lies between")

    def divider_at(self, p):
        """Where the divider at p lies: that share of the photo's columns."""
        x0, x1 = self.box[:2]
        return round(x0 + p * (x1 - x0))

    def test_split_shows_each_side_where_the_divider_is(self):
        d = self.divider_at(0.3)
        # the divider: a bright line at 30% of the photo's width, over the whole
        # view (and a 10-pixel handle on it, half way down)
        line = divider_columns(self.shots["split30"], self.vh)
        self.assertTrue(len(line) in (1, 2) and abs(line.mean() - d) <= 1, (line, d))
        # left of it, exactly the original; right of it, exactly the enhanced view
        np.testing.assert_array_equal(self.region("split30", 0, d - 6), self.region("original", 0, d - 6))
        right = self.region("split30", d + 10, W - 140)  # clear of the divider's handle and the label
        np.testing.assert_array_equal(right, self.region("enhanced", d + 10, W - 140))
        self.assertGreater(np.abs(right - self.region("original", d + 10, W - 140)).mean(), 20)

    def test_flash_shows_the_original_on_both_sides(self):
        d = self.divider_at(0.3)
        np.testing.assert_array_equal(self.region("flash", d + 10, W - 200), self.region("original", d + 10, W - 200))

    def test_strength_zero_shows_the_original_on_both_sides(self):
        np.testing.assert_array_equal(self.region("strength0", 200, W), self.region("original", 200, W))
        d = self.divider_at(0.6)
        np.testing.assert_array_equal(self.region("split60_s0", 0, d - 6), self.region("original", 0, d - 6))
        np.testing.assert_array_equal(self.region("split60_s0", d + 10, W - 140),
                                      self.region("original", d + 10, W - 140))

    def test_side_by_side_panes_show_the_same_region(self):
        half = W // 2
        left = self.region("side_s0", 1, half - 2)  # the panes meet at a 2-pixel line
        right = self.region("side_s0", half + 1, 2 * half - 2)
        np.testing.assert_array_equal(left, right)  # at strength 0 both panes hold the same pixels
        self.assertGreater(left.std(), 3)  # and they are a photo, not a blank

    def blocks_about_centre(self, shot, photo, x, y, k=8):
        """The screen around the view's centre, and photo pixel (x, y) and its
        neighbours as k x k squares about the same point (the view at k x)."""
        cx, cy = W / 2, self.vh / 2
        ys, xs = np.mgrid[int(cy) - 60:int(cy) + 60, int(cx) - 60:int(cx) + 60]
        py = np.floor(y + (ys + 0.5 - cy) / k).astype(int)
        px = np.floor(x + (xs + 0.5 - cx) / k).astype(int)
        return shot[ys, xs], photo[py, px]

    def test_zoom_shows_real_pixels_about_the_centre(self):
        # at 800% photo pixel (80, 50) is at the view's centre, and each
        # photo pixel is an 8 x 8 square of its own value (PNG: exact)
        got, want = self.blocks_about_centre(self.shots["zoom800"], self.photo, 80, 50)
        np.testing.assert_array_equal(got, want)
        got, off_by_one = self.blocks_about_centre(self.shots["zoom800"], self.photo, 81, 50)
        self.assertGreater(np.abs(got - off_by_one).mean(), 1.0)

    def test_zoom_and_place_stay_for_the_next_photo_of_the_same_size(self):
        got, want = self.blocks_about_centre(self.shots["next800"], self.mirror, 80, 50)
        np.testing.assert_array_equal(got, want)

    def test_fit_after_zoom_is_the_first_view(self):
        np.testing.assert_array_equal(self.region("refit", 200, W), self.region("original", 200, W))

    def test_frame_rate_is_reported(self):
        self.assertRegex(self.log, r"frames in [0-9.]+ s while the network ran")


class ViewerLargeTest(unittest.TestCase):
    def test_downscaled_photo_is_filtered_not_sampled(self):
        # A 1-pixel checkerboard in a small window (fit: 31%, drawn from the
        # half-size level) and at 20% (the quarter level): every screen pixel
        # must be the pattern's mean grey; point sampling shows black, white
        # or moire. Drawn in 128-pixel tiles.
        y, x = np.mgrid[0:683, 0:1024]
        board = ((x + y) % 2 * 255).astype(np.uint8)
        path = os.path.join(WORK, "checker.png")
        Image.fromarray(np.stack([board] * 3, axis=2)).save(path)
        shots, _ = run_viewer([path], ("--set", "mode=original"), ("--screenshot", "fit"),
                              ("--set", "zoom=0.2"), ("--screenshot", "z20"),
                              ("--set", "zoom=1"), ("--set", "center=512,341"), ("--screenshot", "z100"),
                              tile=128, size=(320, 260), model=TINY)
        for name in ("fit", "z20"):
            vh = view_height(shots[name])
            x0, x1, y0, y1 = photo_box(shots[name], vh)
            self.assertGreater((x1 - x0) * (y1 - y0), 2000, name)
            inner = shots[name][y0 + 30:y1 - 2, x0 + 2:x1 - 2]
            self.assertLess(np.abs(inner - 127.5).max(), 3, name)
        # at 100% the real pixels: alternating 0 and 255
        vh = view_height(shots["z100"])
        c = shots["z100"][vh // 2 - 20:vh // 2 + 20, 160 - 20:160 + 20, 0]
        self.assertEqual(set(np.unique(c).tolist()), {0, 255})
        self.assertTrue(np.all(c[:, 1:] != c[:, :-1]))

    def test_tiles_draw_the_same_picture_as_one_texture(self):
        # At 100% and at 50% (the half-size level, 1:1 on the screen) the
        # 64-pixel tiles give exactly the picture of one texture. (Scaled, SDL's
        # software renderer starts its filter's phase afresh at each tile;
        # hardware renderers sample through the one-pixel apron seamlessly.)
        acts = (("--set", "mode=split"), ("--set", "zoom=1"), ("--set", "center=100,100"), ("--screenshot", "t100"),
                ("--set", "zoom=0.5"), ("--screenshot", "t50"))
        one, _ = run_viewer([SAMPLE], *acts, size=(400, 300), model=TINY)
        tiled, _ = run_viewer([SAMPLE], *acts, tile=64, size=(400, 300), model=TINY)
        for name in ("t100", "t50"):  # the view; the status bar holds each run's network time
            vh = view_height(one[name])
            self.assertGreater(one[name][:vh].std(), 3, name)
            np.testing.assert_array_equal(one[name][:vh], tiled[name][:vh], err_msg=name)


class ViewerSaveTest(unittest.TestCase):
    def test_save_is_what_the_cli_writes_and_never_overwrites(self):
        folder = os.path.join(WORK, "save")
        os.makedirs(folder)
        photo = os.path.join(folder, "dark.png")
        shutil.copy(os.path.join(small_photos()[0], "a_small.png"), photo)
        run_viewer([photo], ("--set", "strength=0.6"), ("--set", "save"), ("--set", "save"))
        first, second = os.path.join(folder, "dark_enhanced.png"), os.path.join(folder, "dark_enhanced-2.png")
        self.assertTrue(os.path.exists(first) and os.path.exists(second), os.listdir(folder))
        cli_out = os.path.join(WORK, "cli")
        subprocess.run([CLI, "-q", "-d", "cpu", "-m", MODEL, "-s", "0.6", "-o", cli_out, photo], check=True)
        with open(first, "rb") as a, open(os.path.join(cli_out, "dark.png"), "rb") as b:
            self.assertEqual(a.read(), b.read(), "the viewer's save differs from the CLI's output at the same strength")
        with open(first, "rb") as a, open(second, "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_scripted_runs_leave_the_settings_alone(self):
        # a script reads the settings but never writes them: neither an
        # existing file nor a missing one changes
        config = os.path.join(WORK, "scripted")
        path = os.path.join(config, "sagalux", "viewer.json")
        os.makedirs(os.path.dirname(path))
        kept = '{"strength": 0.7, "divider": 0.5, "mode": "split", "device": "cpu"}\n'
        with open(path, "w") as f:
            f.write(kept)
        run_viewer([SAMPLE], ("--set", "strength=0.35"), ("--set", "mode=side"), model=TINY, config=config)
        with open(path) as f:
            self.assertEqual(f.read(), kept)
        os.remove(path)
        run_viewer([SAMPLE], ("--set", "strength=0.35"), model=TINY, config=config)
        self.assertEqual(os.listdir(os.path.dirname(path)), [])


class ViewerInputTest(unittest.TestCase):
    def test_mouse_and_keys(self):
        # A person's input through the X server (xdotool's XTEST): drag the
        # divider from the middle to a quarter, press [ twice (strength -0.1),
        # Tab (side by side) and D (from a GPU this machine lacks, given on
        # the command line: the CPU), quit with q; the settings file then
        # holds what the window was set to, numbers as set (0.9, not 0.89999997).
        # The photo is as wide as the window, so the divider's share of the
        # photo is its share of the window.
        if shutil.which("xdotool") is None:
            if os.environ.get("CI"):
                raise AssertionError("xdotool missing; .ci/install-deps --test should have installed it")
            self.skipTest("needs xdotool (.ci/install-deps --test installs it)")
        config = os.path.join(WORK, "input")
        wide = os.path.join(WORK, "wide.png")
        Image.open(SAMPLE).convert("RGB").crop((0, 100, 640, 300)).save(wide)
        script = f"""
            {VIEWER} -d cuda:0 -m {TINY} --size {W}x{H} {wide} & pid=$!
            wid=$(xdotool search --sync --name 'sagalux-view' | head -n 1)
            xdotool windowfocus --sync $wid
            xdotool mousemove --window $wid {W // 2} 300 sleep 0.3 mousedown 1 sleep 0.2 \
                    mousemove --window $wid {W // 3} 300 sleep 0.2 mousemove --window $wid {W // 4} 300 sleep 0.2 mouseup 1
            xdotool key --delay 150 bracketleft bracketleft Tab d
            sleep 1
            xdotool key q
            wait $pid
        """
        env = dict(os.environ, SDL_RENDER_DRIVER="software", XDG_CONFIG_HOME=config)
        p = subprocess.run(xvfb_run("-screen 0 1280x1024x24") + ["bash", "-ec", script], env=env,
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(config, "sagalux", "viewer.json")) as f:
            text = f.read()
        s = json.loads(text)
        self.assertAlmostEqual(s["divider"], 0.25, delta=0.002)
        self.assertEqual(s["strength"], 0.9)
        self.assertEqual(re.findall(r"\d\.\d{5,}", text), [], text)
        self.assertEqual(s["mode"], "side")
        self.assertEqual(s["device"], "cpu")


class ViewerErrorTest(unittest.TestCase):
    def assert_error_box(self, shot):
        vh = view_height(shot)
        mid = shot[vh // 2 - 60:vh // 2 + 60]
        red = (mid[..., 0] > 200) & (mid[..., 1] < 140) & (mid[..., 2] < 140)
        self.assertGreater(red.sum(), 20, "no error shown in the window")

    def test_broken_photo_is_shown_as_an_error(self):
        path = os.path.join(WORK, "broken.jpg")
        with open(SAMPLE, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:200])  # a JPEG cut short
        shots, log = run_viewer([path], ("--screenshot", "broken"))
        self.assert_error_box(shots["broken"])

    def test_missing_model_is_shown_as_an_error(self):
        args = [VIEWER, "--no-settings", "-m", os.path.join(WORK, "no-such-model.sglx"), "--size", f"{W}x{H}",
                "--screenshot", os.path.join(WORK, "nomodel.png"), SAMPLE]
        env = dict(os.environ, SDL_RENDER_DRIVER="software")
        p = subprocess.run(xvfb_run() + args, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_error_box(np.asarray(Image.open(os.path.join(WORK, "nomodel.png")).convert("RGB")).astype(np.int16))

    def test_bad_action_is_a_usage_error(self):
        p = subprocess.run([VIEWER, "--set", "zoom=huge", SAMPLE], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("zoom", p.stderr)


def save_png(path, pixels):
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(path)
    return path


def is_red(a):
    return (a[..., 0] > 200) & (a[..., 1] < 140) & (a[..., 2] < 140)


class ViewerErrorsAndEdgesTest(unittest.TestCase):
    """What a new user ran into: the previous photo left after an error, a
    remembered GPU that is not here, the divider off a portrait photo, the
    error box clipped side by side, transparency, the handle over a tiny
    photo, broken settings, the help's keys."""

    def test_error_leaves_nothing_of_the_previous_photo(self):
        # the next file is text named .jpg: the window shows its error alone,
        # and Ctrl+S saves nothing (the previous photo under its own name was saved)
        folder = os.path.join(WORK, "with_text")
        os.makedirs(folder)
        shutil.copy(os.path.join(small_photos()[0], "a_small.png"), folder)
        with open(os.path.join(folder, "b_text.jpg"), "w") as f:
            f.write("not a photo\n")
        shots, log = run_viewer([os.path.join(folder, "a_small.png")], ("--set", "next"), ("--screenshot", "err"),
                                ("--set", "save"), model=TINY, expect=1)
        shot = shots["err"]
        vh = view_height(shot)
        self.assertGreater(is_red(shot[vh // 2 - 60:vh // 2 + 60]).sum(), 20, "no error shown")
        # above and below the error box: the empty background, no photo
        self.assertTrue(np.all(shot[:vh // 2 - 80] == 40) and np.all(shot[vh // 2 + 80:vh] == 40))
        self.assertEqual(sorted(os.listdir(folder)), ["a_small.png", "b_text.jpg"])
        self.assertIn("not saved: b_text.jpg could not be opened", log)

    def test_remembered_gpu_that_is_not_here_falls_back_to_the_cpu(self):
        config = os.path.join(WORK, "gpu_settings")
        os.makedirs(os.path.join(config, "sagalux"))
        with open(os.path.join(config, "sagalux", "viewer.json"), "w") as f:
            f.write('{"device": "cuda:0"}\n')
        shots, log = run_viewer([SAMPLE], ("--screenshot", "fallback"), model=TINY, config=config, device=None)
        self.assertIn("the remembered device cuda:0 is not available: using the CPU", log)
        shot = shots["fallback"]
        vh = view_height(shot)
        self.assertEqual(is_red(shot[:vh]).sum(), 0, "an error is shown")

    def test_portrait_split_and_transparency(self):
        # 120 x 300, its top 100 rows transparent with red stored under them
        y, x = np.mgrid[0:300, 0:120]
        rgba = np.zeros((300, 120, 4), np.uint8)
        rgba[..., 0] = 40 + (x * 1.5).astype(np.uint8)
        rgba[..., 1] = 60 + (y // 3).astype(np.uint8)
        rgba[..., 2] = 90
        rgba[..., 3] = 255
        rgba[:100] = (255, 0, 0, 0)
        path = save_png(os.path.join(WORK, "portrait.png"), rgba)
        shots, _ = run_viewer([path], ("--set", "mode=original"), ("--screenshot", "orig"),
                              ("--set", "mode=split"), ("--set", "divider=0.8"), ("--screenshot", "split80"),
                              model=TINY)
        vh = view_height(shots["orig"])
        x0, x1, y0, y1 = photo_box(shots["orig"], vh)
        # the divider over the photo, at 80% of its width; right of it the enhanced side
        line = divider_columns(shots["split80"], vh)
        d = x0 + 0.8 * (x1 - x0)
        self.assertTrue(len(line) in (1, 2) and abs(line.mean() - d) <= 1.5, (line, d, x0, x1))
        right = slice(line.max() + 2, x1)
        rows = slice(vh // 2 + 60, y1)  # the opaque part, below the handle
        self.assertGreater(np.abs(shots["split80"][rows, right] - shots["orig"][rows, right]).mean(), 10)
        # transparent pixels: a grey checkerboard, not the red stored there
        top = shots["orig"][y0 + 4:vh // 3 - 6, x0 + 2:x1 - 2]  # the photo fills the height: its top third
        self.assertEqual(is_red(top).sum(), 0)
        greys = set(map(tuple, top.reshape(-1, 3).tolist()))
        self.assertEqual(greys, {(204, 204, 204), (153, 153, 153)})

    def test_error_box_is_whole_side_by_side(self):
        path = os.path.join(WORK, "a_broken_photo_with_a_name_long_enough_to_need_more_than_half_the_window.jpg")
        with open(path, "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 cut short")
        shots, _ = run_viewer([path], ("--set", "mode=side"), ("--screenshot", "side_err"), model=TINY)
        shot = shots["side_err"]
        vh = view_height(shot)
        box = np.where(np.all(shot[:vh] == 90, axis=2).any(axis=0))[0]  # the box's border
        self.assertGreater(len(box), W // 2)
        self.assertGreater(box.min(), 0, "the box is cut off at the left")
        self.assertLessEqual(abs(box.min() - (W - 1 - box.max())), 2)

    def test_tiny_photo_at_100_percent_is_not_under_the_handle(self):
        rng = np.random.default_rng(5)
        path = save_png(os.path.join(WORK, "tiny16.png"), rng.integers(60, 200, (16, 16, 3)))
        shots, _ = run_viewer([path], ("--set", "mode=original"), ("--set", "zoom=1"), ("--screenshot", "o"),
                              ("--set", "mode=split"), ("--set", "flash=1"), ("--screenshot", "s"), model=TINY)
        vh = view_height(shots["o"])
        x0, x1, y0, y1 = photo_box(shots["o"], vh)
        self.assertEqual((x1 - x0, y1 - y0), (16, 16))
        differ = np.any(shots["o"][y0:y1, x0:x1] != shots["s"][y0:y1, x0:x1], axis=2)
        self.assertLessEqual(differ.any(axis=0).sum(), 2, "more of the photo is covered than the divider's line")

    def test_broken_settings_are_said_once(self):
        config = os.path.join(WORK, "broken_settings")
        path = os.path.join(config, "sagalux", "viewer.json")
        os.makedirs(os.path.dirname(path))
        with open(path, "w") as f:
            f.write('{"strength": 0.4, "mode": ')
        shots, log = run_viewer([SAMPLE], ("--screenshot", "said"), model=TINY, config=config, device=None)
        self.assertEqual(log.count("is not valid"), 1, log)
        self.assertIn(path, log)

    def test_help_lists_every_key_the_docs_list(self):
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "..", "docs", "viewer.md")) as f:
            doc = f.read()
        table = doc[doc.index("## Keys and mouse"):doc.index("## How it behaves")]
        keys = []
        for row in table[table.index("| --- |"):].splitlines()[1:]:
            if row.startswith("| "):
                cell = row.split(" | ")[0][2:].replace("`", "")
                keys += [k.strip() for k in re.split(r"[,()]| / | or ", cell) if k.strip() not in ("", "held")]
        with open(os.path.join(here, "..", "README.md")) as f:
            readme = f.read()
        viewer_part = readme[readme.index("## The viewer"):readme.index("## What is inside")]
        keys += [k for k in re.findall(r"`([^`]+)`", viewer_part) if len(k) == 1]
        keys += re.findall(r"\b(?:Ctrl|Shift)\+\w+", viewer_part)
        self.assertGreater(len(keys), 25, keys)
        p = subprocess.run([VIEWER, "--help"], capture_output=True, text=True, check=True)
        helptext = p.stdout[p.stdout.index("Keys and mouse"):]
        missing = [k for k in keys if not re.search(r"(?<![\w+])" + re.escape(k) + r"(?!\w)", helptext)]
        self.assertEqual(missing, [], "keys the docs list and the help does not")


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
