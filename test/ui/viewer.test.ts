/**
 * The study viewer: its pure parts (slice stack, viewport arithmetic, header
 * texts, series lists, command arguments) always, and `loader view` under
 * Xvfb, driven by xdotool, when the GUI and the loader bundle are built.
 *
 * With LOADER_UI_SCREENSHOTS=DIR the GUI tests also save the README
 * screenshots there (viewer-ct-soft-tissue.png, viewer-us-multiframe.png,
 * viewer-colour.png).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { parseViewTargets } from '../../src/cli/commands/view';
import { LocalArchive } from '../../src/services/archive';
import { RenderPipeline } from '../../src/services/viewer/pipeline';
import { translator } from '../../src/ui/i18n';
import { formatDicomDate, formatPersonName, headerPanelHtml, seriesCaption } from '../../src/ui/viewer/header-text';
import { SliceStack } from '../../src/ui/viewer/slice-stack';
import { seriesFromArchive, seriesFromFiles, StudyNotFoundError } from '../../src/ui/viewer/study-source';
import { clampPan, displaySize, MAX_ZOOM, MIN_ZOOM, renderSize, visiblePart, windowAfterDrag, zoomBy } from '../../src/ui/viewer/view-geometry';
import { modifiedCopy, Tag } from '../archive/fixtures';
import { damagedJpeg2000Copy } from '../codecs/reference';
import { corpusFile, corpusPath, corpusSamples } from '../support/corpus';
import { createLoaderDirs, LOADER_BIN, makeTempDir, startProcess, waitUntil } from '../support/peers';
import type { ManagedProcess } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { sleep, WindowDriver } from './window-driver';

const t = translator('en');

describe('slice stack', () => {
  const stack = () =>
    new SliceStack([
      { path: 'a', frames: 1 },
      { path: 'b', frames: 3 },
      { path: 'c', frames: 1 },
    ]);

  test('counts frames of all instances', () => {
    expect(stack().total).toBe(5);
    expect(stack().instanceCount).toBe(3);
  });

  test('steps through frames, then instances', () => {
    const slices = stack();
    const visited = [{ instance: 0, frame: 0 }];
    for (let index = 0; index < 4; index++) visited.push(slices.step(visited[visited.length - 1], 1));
    expect(visited).toEqual([
      { instance: 0, frame: 0 },
      { instance: 1, frame: 0 },
      { instance: 1, frame: 1 },
      { instance: 1, frame: 2 },
      { instance: 2, frame: 0 },
    ]);
    expect(visited.map((position) => slices.indexOf(position))).toEqual([0, 1, 2, 3, 4]);
  });

  test('stops at first and last image', () => {
    const slices = stack();
    expect(slices.step({ instance: 0, frame: 0 }, -1)).toEqual({ instance: 0, frame: 0 });
    expect(slices.step({ instance: 2, frame: 0 }, 5)).toEqual({ instance: 2, frame: 0 });
    expect(slices.positionAt(Number.MAX_SAFE_INTEGER)).toEqual({ instance: 2, frame: 0 });
  });

  test('frame counts update the total', () => {
    const slices = stack();
    slices.setFrameCount(0, 10);
    expect(slices.total).toBe(14);
    expect(slices.positionAt(10)).toEqual({ instance: 1, frame: 0 });
    slices.setFrameCount(1, 0);
    expect(slices.instance(1).frames).toBe(1);
    expect(slices.clamp({ instance: 1, frame: 2 })).toEqual({ instance: 1, frame: 0 });
  });
});

describe('viewport geometry', () => {
  test('drag right widens, drag down raises centre', () => {
    const start = { center: 40, width: 400 };
    const after = windowAfterDrag(start, 256, 128);
    expect(after.width).toBeCloseTo(800);
    expect(after.center).toBeCloseTo(240);
  });

  test('drag keeps width at least 1', () => {
    expect(windowAfterDrag({ center: 0, width: 10 }, -10_000, 0).width).toBe(1);
  });

  test('zoom stays within limits', () => {
    expect(zoomBy(1, 1)).toBeCloseTo(1.25);
    expect(zoomBy(1, 100)).toBe(MAX_ZOOM);
    expect(zoomBy(1, -100)).toBe(MIN_ZOOM);
  });

  test('render size never exceeds the image', () => {
    const image = { width: 512, height: 512 };
    expect(renderSize(image, { width: 300, height: 200 }, 1)).toEqual({ width: 200, height: 200 });
    expect(renderSize(image, { width: 800, height: 800 }, 1)).toEqual(image);
    expect(renderSize(image, { width: 300, height: 200 }, 4)).toEqual(image);
  });

  test('visible part of a centred image', () => {
    const viewport = { width: 400, height: 200 };
    const shown = displaySize({ width: 100, height: 100 }, viewport, 1);
    expect(shown).toEqual({ width: 200, height: 200 });
    const part = visiblePart({ width: 100, height: 100 }, shown, viewport, { x: 0, y: 0 });
    expect(part?.source).toEqual({ x: 0, y: 0, width: 100, height: 100 });
    expect(part?.target).toEqual({ x: 100, y: 0, width: 200, height: 200 });
  });

  test('visible part of a zoomed, panned image', () => {
    const viewport = { width: 200, height: 200 };
    const shown = displaySize({ width: 100, height: 100 }, viewport, 2);
    expect(shown).toEqual({ width: 400, height: 400 });
    // Panned 100 pixels right, the image's left edge is at x = 0 and its right half is cut off.
    const part = visiblePart({ width: 100, height: 100 }, shown, viewport, { x: 100, y: 0 });
    expect(part?.target).toEqual({ x: 0, y: 0, width: 200, height: 200 });
    expect(part?.source).toEqual({ x: 0, y: 25, width: 50, height: 50 });
  });

  test('pan keeps part of the image in view', () => {
    const pan = clampPan({ x: 10_000, y: -10_000 }, { width: 100, height: 100 }, { width: 200, height: 200 });
    expect(pan).toEqual({ x: 118, y: -118 });
    expect(visiblePart({ width: 100, height: 100 }, { width: 100, height: 100 }, { width: 200, height: 200 }, pan)).toBeDefined();
  });
});

describe('viewer texts', () => {
  test('dates and person names', () => {
    expect(formatDicomDate('20040119')).toBe('2004-01-19');
    expect(formatDicomDate('2004')).toBe('2004');
    expect(formatPersonName('Doe^John^^Dr')).toBe('Doe John Dr');
    expect(formatPersonName('Yamada^Tarou=山田^太郎')).toBe('Yamada Tarou');
  });

  test('header panel of a CT escapes values', async () => {
    const pipeline = new RenderPipeline();
    try {
      const header = await pipeline.readHeader(corpusPath('samples/ct/ct-small.dcm').absolutePath);
      header.patient.name = 'A<B>&C';
      const html = headerPanelHtml(header, t);
      expect(html).toContain('A&lt;B&gt;&amp;C');
      expect(html).toContain('<b>Transfer syntax</b>');
      // UIDs carry zero-width spaces after their dots, where Qt may wrap them.
      expect(html).toContain('1.\u200b2.\u200b840.\u200b10008.\u200b1.\u200b2.\u200b1');
      expect(html).toContain('2004-01-19');
    } finally {
      await pipeline.close();
    }
  });

  test('header panel translates patient sex', async () => {
    const pipeline = new RenderPipeline();
    try {
      const header = await pipeline.readHeader(corpusPath('samples/ct/ct-small.dcm').absolutePath);
      const sexRow = (label: string, value: string) => `<td style="padding-right:8px">${label}</td><td>${value}</td>`;
      const russian = translator('ru');
      const cases: [code: string, english: string, russianText: string][] = [
        ['M', 'Male', 'Мужской'],
        ['F', 'Female', 'Женский'],
        ['O', 'Other', 'Другой'],
        ['X', 'X', 'X'],
      ];
      for (const [code, english, russianText] of cases) {
        header.patient.sex = code;
        expect(headerPanelHtml(header, t)).toContain(sexRow('Sex', english));
        expect(headerPanelHtml(header, russian)).toContain(sexRow('Пол', russianText));
      }
    } finally {
      await pipeline.close();
    }
  });

  test('series caption names number, modality and images', () => {
    const caption = seriesCaption({ key: '1.2', number: '3', modality: 'US', description: 'Cardiac', instances: [{ path: 'x', frames: 10 }] }, t);
    expect(caption).toBe('Series 3 · US\nCardiac\nImages: 10');
  });
});

describe('viewer series lists', () => {
  const brainStudy = corpusPath('samples/mr/brain/brain_002.dcm').studyInstanceUid!;
  const brainFiles = corpusSamples((file) => file.studyInstanceUid === brainStudy);

  test('files group by series with frame counts', async () => {
    const pipeline = new RenderPipeline();
    try {
      const clip = corpusFile('us-multiframe-rle').absolutePath;
      const files = [...brainFiles.map((file) => file.absolutePath), clip];
      const series = await seriesFromFiles(files, (file) => pipeline.readHeader(file));
      const brainSeries = new Set(brainFiles.map((file) => file.seriesInstanceUid));
      expect(series).toHaveLength(brainSeries.size + 1);
      const us = series.find((entry) => entry.modality === 'US')!;
      expect(us.instances).toEqual([{ path: clip, frames: 10 }]);
      expect(series.reduce((sum, entry) => sum + entry.instances.length, 0)).toBe(files.length);
    } finally {
      await pipeline.close();
    }
  });

  test('unreadable file becomes its own series', async () => {
    const notDicom = path.join(makeTempDir('viewer-files'), 'notes.txt');
    fs.writeFileSync(notDicom, 'not a DICOM file');
    const series = await seriesFromFiles([notDicom], () => Promise.reject(new Error('not a DICOM file: no DICM prefix')));
    expect(series).toEqual([
      { key: `file:${notDicom}`, description: 'notes.txt', instances: [{ path: notDicom, frames: 1 }], error: 'not a DICOM file: no DICM prefix' },
    ]);
  });

  test('archive study lists its series', async () => {
    const root = makeTempDir('viewer-archive');
    const archive = LocalArchive.open(root);
    try {
      for (const file of brainFiles) await archive.importFile(file.absolutePath, { copy: false });
    } finally {
      archive.close();
    }
    const series = await seriesFromArchive(root, brainStudy, 'latin1');
    expect(series.map((entry) => entry.key).sort()).toEqual([...new Set(brainFiles.map((file) => file.seriesInstanceUid!))].sort());
    expect(series.reduce((sum, entry) => sum + entry.instances.length, 0)).toBe(brainFiles.length);
    await expect(seriesFromArchive(root, '1.2.3.4', 'latin1')).rejects.toThrow(StudyNotFoundError);
  });

  test('overwritten in-place file not shown', async () => {
    // A file indexed in place and then overwritten with another instance, which could be another patient's.
    const folder = makeTempDir('viewer-in-place');
    const copies = brainFiles.slice(0, 2).map((file, index) => {
      const copy = path.join(folder, `${index}.dcm`);
      fs.copyFileSync(file.absolutePath, copy);
      return copy;
    });
    const root = makeTempDir('viewer-in-place-archive');
    const archive = LocalArchive.open(root);
    try {
      for (const copy of copies) await archive.importFile(copy, { copy: false });
    } finally {
      archive.close();
    }
    // Another instance of the same size, so that only the SOP Instance UID tells the files apart.
    const other = brainFiles[2].absolutePath;
    expect(fs.statSync(other).size).toBe(fs.statSync(copies[0]).size);
    fs.copyFileSync(other, copies[0]);

    const series = await seriesFromArchive(root, brainStudy, 'latin1');
    const shown = series.filter((entry) => entry.error === undefined).flatMap((entry) => entry.instances.map((instance) => instance.path));
    expect(shown).toEqual([copies[1]]);
    const flagged = series.find((entry) => entry.key === `file:${copies[0]}`);
    expect(flagged?.error).toMatch(/stored file now contains another instance: .*0\.dcm contains SOP Instance UID/);
  });
});

describe('loader view arguments', () => {
  test('UID, files and errors', () => {
    const ct = corpusPath('samples/ct/ct-small.dcm').absolutePath;
    expect(parseViewTargets(['1.2.840.113619.2.1'])).toEqual({ studyInstanceUid: '1.2.840.113619.2.1' });
    expect(parseViewTargets([ct])).toEqual({ files: [ct] });
    expect(() => parseViewTargets(['no-such-file.dcm'])).toThrow(/no-such-file\.dcm is neither an existing file nor a Study Instance UID/);
    expect(() => parseViewTargets([path.dirname(ct)])).toThrow(/is a folder/);
  });
});

// ---------------------------------------------------------------------------
// The window under Xvfb.

const SCREENSHOTS = process.env.LOADER_UI_SCREENSHOTS;

const describeWithGui = describeWhenGuiAvailable('viewer window tests', ['Xvfb', 'xdotool', 'import', 'convert']);

describeWithGui('viewer window', () => {
  const dirs = createLoaderDirs('viewer-ui');
  const workDir = makeTempDir('viewer-x');
  let display = '';
  let xvfb: ManagedProcess;
  let viewer: ManagedProcess | undefined;
  let driver: WindowDriver;
  let run = 0;

  /** Starts `loader view ARGS` with a fresh widget geometry file and waits for its window. */
  const openViewer = async (args: string[]): Promise<ManagedProcess> => {
    run++;
    driver = new WindowDriver(display, path.join(workDir, `widgets-${run}.json`));
    viewer = startProcess({
      name: `loader-view-${run}`,
      command: LOADER_BIN,
      args: ['--archive', dirs.archiveDir, '--config-dir', dirs.configDir, 'view', ...args],
      dir: workDir,
      env: { DISPLAY: display, HOME: dirs.homeDir, XDG_RUNTIME_DIR: workDir, LANG: 'C.UTF-8', LOADER_UI_TEST_HOOKS: '1', LOADER_UI_TEST_HOOKS_FILE: driver.widgetsFile },
    });
    await driver.waitFor('viewer-viewport', () => true, 30_000, 'shown');
    await driver.waitForActiveWindow('viewer-window');
    return viewer;
  };

  /** Waits until a frame is shown: the window values label is set only while the viewport shows an image. */
  const waitForImage = () => driver.waitFor('viewer-window-values', (label) => (label.text ?? '') !== '', 20_000, 'an image');

  /** Saves the viewport area of the screen to a PNG and returns its path. */
  const viewportShot = (name: string): string => {
    const viewport = driver.widget('viewer-viewport')!;
    const file = path.join(workDir, name);
    execFileSync('import', ['-window', 'root', '-crop', `${viewport.width}x${viewport.height}+${viewport.x}+${viewport.y}`, '+repage', file], {
      env: { ...process.env, DISPLAY: display },
    });
    return file;
  };
  const imageInfo = (file: string, expression: string): string => execFileSync('convert', [file, '-format', expression, 'info:']).toString();
  const imageStatistic = (file: string, expression: string): number => Number(imageInfo(file, expression));
  const screenshot = (name: string) => {
    if (SCREENSHOTS) driver.screenshot(path.join(SCREENSHOTS, name), 'viewer-window');
  };
  const closeWithEscape = async () => {
    driver.key('Escape');
    const status = await Promise.race([viewer!.exited, sleep(15_000).then(() => undefined)]);
    expect(status).toEqual({ code: 0, signal: null });
    viewer = undefined;
  };

  beforeAll(async () => {
    // Xvfb picks a free display itself and writes its number to fd 3, so two test runs cannot take the same display.
    const displayFile = path.join(workDir, 'display');
    xvfb = startProcess({
      name: 'xvfb',
      command: 'sh',
      args: ['-c', 'exec Xvfb -displayfd 3 -screen 0 1400x900x24 -nolisten tcp 3>"$0"', displayFile],
      dir: workDir,
    });
    await waitUntil(xvfb, 'the display number from Xvfb', () => fs.existsSync(displayFile) && /^\d+\n/.test(fs.readFileSync(displayFile, 'utf8')));
    display = `:${fs.readFileSync(displayFile, 'utf8').trim()}`;
  }, 30_000);

  afterEach(async () => {
    await viewer?.stop();
    viewer = undefined;
  });

  afterAll(async () => {
    await xvfb?.stop();
  });

  test('CT renders with presets and drag', async () => {
    await openViewer([corpusPath('samples/ct/ct-ankle-implicit-le.dcm').absolutePath]);
    await waitForImage();
    expect(driver.widget('viewer-position')?.text).toBe('1 / 1');
    expect(driver.widget('viewer-series-1')?.checked).toBe(true);
    await driver.waitFor('viewer-header', (label) => (label.text ?? '').includes('Transfer syntax'), 10_000, 'the header');
    expect(driver.widget('viewer-header')?.text).toContain('Implicit VR Little Endian');
    // The viewport is black around the image; the image raises the mean well above black.
    expect(imageStatistic(viewportShot('ct-file.png'), '%[fx:mean]')).toBeGreaterThan(0.05);

    driver.key('1');
    await driver.waitFor('viewer-window-values', (label) => label.text === 'W 400  L 40', 10_000, 'W 400 L 40');
    expect(driver.widget('viewer-preset-soft-tissue')?.checked).toBe(true);

    // Dragging 128 pixels right and 64 down from W400/L40 moves by 400/256 per pixel: W600/L140.
    const viewport = driver.widget('viewer-viewport')!;
    const x = viewport.x + Math.floor(viewport.width / 2);
    const y = viewport.y + Math.floor(viewport.height / 2);
    driver.xdotool('mousemove', String(x), String(y), 'mousedown', '1');
    for (let step = 1; step <= 4; step++) driver.xdotool('mousemove', String(x + step * 32), String(y + step * 16));
    driver.xdotool('mouseup', '1');
    await driver.waitFor('viewer-window-values', (label) => label.text === 'W 600  L 140', 10_000, 'W 600 L 140');
    expect(driver.widget('viewer-preset-soft-tissue')?.checked).toBe(false);

    driver.key('0');
    await driver.waitFor('viewer-preset-file', (button) => button.checked === true, 10_000, 'checked');
    driver.key('plus');
    await driver.waitFor('viewer-zoom', (label) => label.text === 'Zoom 125%', 10_000, 'Zoom 125%');
    await closeWithEscape();
  }, 90_000);

  test('long UIDs wrap in header', async () => {
    // UIDs of the maximum 64 characters (PS3.5 section 9.1), one with a component of 59 digits.
    const studyUid = `2.25.${'1234567890'.repeat(5)}123456789`;
    const seriesUid = `1.2.826.0.1.3680043.8.498.${'9876543210'.repeat(3)}98765432`;
    const file = modifiedCopy(corpusPath('samples/ct/ct-small.dcm').absolutePath, path.join(workDir, 'long-uids', 'ct.dcm'), {
      [Tag.StudyInstanceUID]: studyUid,
      [Tag.SeriesInstanceUID]: seriesUid,
      [Tag.SOPInstanceUID]: `${seriesUid.slice(0, -2)}.1`,
    });
    await openViewer([file]);
    await waitForImage();
    const header = await driver.waitFor('viewer-header', (label) => (label.text ?? '').includes('Transfer syntax'), 10_000, 'the header');
    expect(header.text!.replace(/\u200b/g, '')).toContain(studyUid);
    expect(header.text!.replace(/\u200b/g, '')).toContain(seriesUid);
    // A label wider than the panel's viewport is cut off at the right, because the panel has no horizontal scroll bar.
    const panel = driver.widget('viewer-header-panel')!;
    expect(header.width).toBeLessThanOrEqual(panel.width);
    expect(header.x + header.width).toBeLessThanOrEqual(panel.x + panel.width);
    await closeWithEscape();
  }, 90_000);

  test('CT slice in soft tissue window', async () => {
    await openViewer([corpusFile('rle').absolutePath]);
    await waitForImage();
    driver.key('1');
    await driver.waitFor('viewer-window-values', (label) => label.text === 'W 400  L 40', 10_000, 'W 400 L 40');
    await driver.waitFor('viewer-header', (label) => (label.text ?? '').includes('RLE Lossless'), 10_000, 'the header');
    await sleep(500);
    screenshot('viewer-ct-soft-tissue.png');
    await closeWithEscape();
  }, 90_000);

  test('keys scroll a multi-frame clip', async () => {
    await openViewer([corpusFile('us-multiframe-rle').absolutePath]);
    await waitForImage();
    await driver.waitFor('viewer-position', (label) => label.text === '1 / 10', 10_000, '1 / 10');
    await sleep(300);
    const first = imageInfo(viewportShot('us-1.png'), '%#');

    driver.key('Next');
    await driver.waitFor('viewer-position', (label) => label.text === '2 / 10', 10_000, '2 / 10');
    await sleep(500);
    expect(imageInfo(viewportShot('us-2.png'), '%#')).not.toBe(first);

    driver.key('End');
    await driver.waitFor('viewer-position', (label) => label.text === '10 / 10', 10_000, '10 / 10');
    driver.key('Next');
    await sleep(300);
    expect(driver.widget('viewer-position')?.text).toBe('10 / 10');
    // Button 4 is the wheel turned away from the user: one image back.
    const viewport = driver.widget('viewer-viewport')!;
    driver.xdotool('mousemove', String(viewport.x + 50), String(viewport.y + 50), 'click', '4');
    await driver.waitFor('viewer-position', (label) => label.text === '9 / 10', 10_000, '9 / 10');
    driver.key('Home', 'Next', 'Next', 'Next');
    await driver.waitFor('viewer-position', (label) => label.text === '4 / 10', 10_000, '4 / 10');
    await sleep(500);
    screenshot('viewer-us-multiframe.png');
    await closeWithEscape();
  }, 90_000);

  test('colour image shows in colour', async () => {
    await openViewer([corpusPath('samples/sc/sc-rgb-jpeg-baseline.dcm').absolutePath]);
    await driver.waitFor('viewer-window-values', (label) => label.text === 'Colour image', 20_000, 'Colour image');
    await sleep(300);
    // In HSL the second channel is saturation: 0 for grey pixels, clearly above 0 on average for a colour photograph.
    const hsl = path.join(workDir, 'colour-hsl.png');
    execFileSync('convert', [viewportShot('colour.png'), '-colorspace', 'HSL', hsl]);
    expect(imageStatistic(hsl, '%[fx:mean.g]')).toBeGreaterThan(0.1);
    screenshot('viewer-colour.png');
    await closeWithEscape();
  }, 90_000);

  test('undecodable file shows the error, window stays', async () => {
    const good = corpusFile('jpeg2000').absolutePath;
    const damaged = damagedJpeg2000Copy(good);
    await openViewer([damaged, good]);
    // Both files are instances of one series; the damaged copy has the same Instance Number, so the path order decides.
    await driver.waitFor('viewer-position', (label) => /^\d \/ 2$/.test(label.text ?? ''), 10_000, 'n / 2');
    const damagedFirst = damaged.localeCompare(good) < 0;
    if (!damagedFirst) {
      await waitForImage();
      driver.key('Next');
    }
    const errorShown = await driver.waitFor('viewer-viewport', (label) => (label.text ?? '').includes('JPEG 2000 Image Compression (1.2.840.10008.1.2.4.91)'), 20_000, 'the error');
    expect(errorShown.text).toContain(damaged);
    expect(driver.widget('viewer-window-values')?.text).toBe('');

    await sleep(1_000);
    expect(viewer!.exitStatus).toBeUndefined();
    expect(driver.widget('viewer-window')).toBeDefined();
    driver.key(damagedFirst ? 'Next' : 'Prior');
    await waitForImage();
    expect(driver.widget('viewer-viewport')?.text).toBe('');
    await closeWithEscape();
  }, 90_000);

  test('archive study shows its series', async () => {
    const brainStudy = corpusPath('samples/mr/brain/brain_002.dcm').studyInstanceUid!;
    const brainFiles = corpusSamples((file) => file.studyInstanceUid === brainStudy);
    fs.mkdirSync(dirs.archiveDir, { recursive: true });
    const archive = LocalArchive.open(dirs.archiveDir);
    try {
      for (const file of brainFiles) await archive.importFile(file.absolutePath, { copy: false });
    } finally {
      archive.close();
    }
    const series = await seriesFromArchive(dirs.archiveDir, brainStudy, 'latin1');
    expect(series.length).toBeGreaterThan(1);

    await openViewer([brainStudy]);
    await waitForImage();
    await driver.waitFor('viewer-position', (label) => label.text === `1 / ${series[0].instances.length}`, 10_000, `1 / ${series[0].instances.length}`);
    driver.key('Next');
    await driver.waitFor('viewer-position', (label) => label.text === `2 / ${series[0].instances.length}`, 10_000, `2 / ${series[0].instances.length}`);
    await driver.click('viewer-series-2');
    await driver.waitFor('viewer-series-2', (button) => button.checked === true, 10_000, 'checked');
    await driver.waitFor('viewer-position', (label) => label.text === `1 / ${series[1].instances.length}`, 10_000, `1 / ${series[1].instances.length}`);
    await waitForImage();
    await closeWithEscape();
  }, 90_000);

  test('Ctrl+arrows switch series', async () => {
    // Two files of different series: a CT image and a 10-frame ultrasound clip.
    await openViewer([corpusPath('samples/ct/ct-ankle-implicit-le.dcm').absolutePath, corpusFile('us-multiframe-rle').absolutePath]);
    await waitForImage();
    expect(driver.widget('viewer-series-2')).toBeDefined();
    expect(driver.widget('viewer-series-1')?.checked).toBe(true);

    driver.key('ctrl+Down');
    await driver.waitFor('viewer-series-2', (button) => button.checked === true, 10_000, 'checked');
    expect(driver.widget('viewer-series-1')?.checked).toBe(false);
    await waitForImage();

    // The last series stays selected, because Ctrl+Down does not wrap around.
    driver.key('ctrl+Down');
    await sleep(300);
    expect(driver.widget('viewer-series-2')?.checked).toBe(true);

    driver.key('ctrl+Up');
    await driver.waitFor('viewer-series-1', (button) => button.checked === true, 10_000, 'checked');
    // Selecting a series shows its first image.
    const firstSeriesImageCount = /Images: (\d+)/.exec(driver.widget('viewer-series-1')?.text ?? '')?.[1];
    await driver.waitFor('viewer-position', (label) => label.text === `1 / ${firstSeriesImageCount}`, 10_000, `1 / ${firstSeriesImageCount}`);
    await closeWithEscape();
  }, 90_000);
});
