/**
 * The desktop window at a first start under Xvfb, in Russian: no license is
 * activated and the loader's own server accepts only registered calling AE
 * titles. Continue in the license window goes on without a license, and an
 * association that the server rejects gets one notice in the window that
 * names the calling AE title, its address and the fix. Several calling AE
 * titles share one bar, which shows the newest notice and counts the others,
 * so the study tables keep most of their height.
 */

import { corpusSamples, storeFiles } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { sleep, useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-first-start', ['Xvfb', 'xdotool', 'import', 'storescu']);

const AE_TITLE = 'LOADERNEW';
const UNKNOWN_CALLER = 'UNKNOWNMOD';

describeWithGui('window at first start', () => {
  const session = useWindowSession('first-start', {
    language: 'ru',
    startServer: true,
    closeLicense: false,
    // The tray icon keeps its default, as at a first start.
    settings: { 'pacs.aeTitle': AE_TITLE, 'pacs.acceptAnyCallingAeTitle': 'off', 'interface.trayIcon': 'on' },
  });

  /** Sends one CT instance from `callingAeTitle` to `calledAeTitle` and expects the server to reject the association. */
  const storeFromUnknownCaller = async (callingAeTitle = UNKNOWN_CALLER, calledAeTitle = AE_TITLE) => {
    const file = corpusSamples((sample) => sample.path.endsWith('/ct-small.dcm'))[0]?.absolutePath;
    if (!file) throw new Error('corpus sample ct-small.dcm not found; rebuild test/.corpus with npm run corpus');
    const result = await storeFiles({ aeTitle: calledAeTitle, host: '127.0.0.1', port: session.serverPort }, [file], { callingAeTitle });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/AE Title Not Recognized|rejected/i);
  };

  test('Continue works without a license', async () => {
    await session.driver.waitForActiveWindow('license-window', 30_000);
    const text = await session.driver.waitFor('license-text');
    expect(text.text).toContain('Загрузчик работает и без неё');
    expect(session.driver.widget('license-continue')?.enabled).toBe(true);

    await session.driver.click('license-continue');
    await session.driver.waitForGone('license-window');
    await session.driver.waitForActiveWindow('main-window');
    const listening = await session.driver.waitFor('server-state', (label) => /^Сервер принимает/.test(label.text ?? ''), 20_000, 'listening');
    expect(listening.text).toBe(`Сервер принимает на 127.0.0.1:${session.serverPort} как ${AE_TITLE}`);
  }, 60_000);

  test('rejected caller gets one notice', async () => {
    expect(session.driver.widget('server-notice')).toBeUndefined();

    await storeFromUnknownCaller();
    const first = await session.driver.waitFor('server-notice', (label) => (label.text ?? '').includes(UNKNOWN_CALLER), 10_000, `text with ${UNKNOWN_CALLER}`);
    expect(first.text).toBe(
      `Сервер PACS отклонил ассоциацию от вызывающего имени AE «${UNKNOWN_CALLER}» с адреса 127.0.0.1: ` +
        'это имя AE не зарегистрировано. Добавьте его как расположение в «Настройки: Расположения» или включите ' +
        '«Принимать любое вызывающее имя AE» в «Настройки: PACS» и выключите и снова включите «PACS вкл.».',
    );

    // Two more rejections within the repeat window update the same notice instead of adding lines.
    await storeFromUnknownCaller();
    await storeFromUnknownCaller();
    const repeated = await session.driver.waitFor('server-notice', (label) => (label.text ?? '').includes('(раз: 3)'), 10_000, 'count 3');
    expect(repeated.text).toMatch(new RegExp(`^Сервер PACS отклонил ассоциации от вызывающего имени AE «${UNKNOWN_CALLER}» с адреса 127\\.0\\.0\\.1 \\(раз: 3\\), последнюю: это имя AE не зарегистрировано`));
    const notices = Object.keys(session.driver.dump().widgets).filter((name) => name.startsWith('server-notice'));
    expect(notices.sort()).toEqual(['server-notice', 'server-notice-bar', 'server-notice-dismiss']);

    await session.driver.click('server-notice-dismiss');
    await session.driver.waitForGone('server-notice');
    await sleep(300);
    expect(session.driver.widget('server-notice-bar')).toBeUndefined();
    expect(session.loader.readLog()).toContain(`calling AE title not recognized: ${UNKNOWN_CALLER} from 127.0.0.1`);
  }, 90_000);

  test('rejected callers share one bar', async () => {
    // The tables' height without notices, which the bar may reduce by about three lines of text.
    await session.driver.waitForGone('server-notice');
    const tableHeight = (await session.driver.waitForStill('left-table')).height;

    // The hidden notice of UNKNOWN_CALLER returns with its next rejection, still counted.
    await storeFromUnknownCaller();
    await session.driver.waitFor('server-notice', (label) => (label.text ?? '').includes('(раз: 4)'), 10_000, 'count 4');

    // A second calling AE title, which calls a wrong AE title too, takes the bar's text, and the count line counts the first.
    await storeFromUnknownCaller('ORTHANC', 'WRONGAE');
    await session.driver.waitFor('server-notice', (label) => (label.text ?? '').includes('«ORTHANC»'), 10_000, 'ORTHANC shown');
    const countOne = await session.driver.waitFor('server-notice-more', () => true, 10_000, 'the count line');
    expect(countOne.text).toBe('Ещё уведомлений такого рода: 1');
    expect(session.driver.widget('server-notice-dismiss-all')).toBeDefined();

    await storeFromUnknownCaller('THIRDMOD');
    await storeFromUnknownCaller('FOURTHMOD');
    await session.driver.waitFor('server-notice', (label) => (label.text ?? '').includes('«FOURTHMOD»'), 10_000, 'FOURTHMOD shown');
    const countThree = await session.driver.waitFor('server-notice-more', (label) => label.text === 'Ещё уведомлений такого рода: 3', 10_000, 'count 3');
    expect(countThree.text).toBe('Ещё уведомлений такого рода: 3');
    const bars = Object.keys(session.driver.dump().widgets).filter((name) => name.startsWith('server-notice'));
    expect(bars.sort()).toEqual(['server-notice', 'server-notice-bar', 'server-notice-dismiss', 'server-notice-dismiss-all', 'server-notice-more']);

    // The bar is as high as its text: two wrapped lines of the notice and the count line, about 16 pixels each.
    const notice = await session.driver.waitForStill('server-notice');
    const bar = await session.driver.waitForStill('server-notice-bar');
    expect(notice.height).toBeLessThanOrEqual(3 * 20);
    expect(bar.height).toBeLessThanOrEqual(notice.height + 30);
    const shrunk = await session.driver.waitForStill('left-table');
    expect(shrunk.height).toBeGreaterThanOrEqual(tableHeight - 100);

    // Hide closes the shown notice, and the next older one takes its place.
    await session.driver.waitForStill('server-notice-dismiss');
    await session.driver.click('server-notice-dismiss');
    await session.driver.waitFor('server-notice', (label) => (label.text ?? '').includes('«THIRDMOD»'), 10_000, 'THIRDMOD shown');
    await session.driver.waitFor('server-notice-more', (label) => label.text === 'Ещё уведомлений такого рода: 2', 10_000, 'count 2');

    // Hide all closes the bar with every notice of its kind.
    await session.driver.waitForStill('server-notice-dismiss-all');
    await session.driver.click('server-notice-dismiss-all');
    await session.driver.waitForGone('server-notice');
    await sleep(300);
    expect(Object.keys(session.driver.dump().widgets).filter((name) => name.startsWith('server-notice'))).toEqual([]);
  }, 120_000);

  test('SIGTERM closes the window cleanly', async () => {
    const status = await session.loader.stop();
    const log = session.loader.readLog();

    expect(status).toEqual(expect.objectContaining({ code: 0 }));
    expect(log).toMatch(/stop requested signal=SIGTERM/);
    expect(log).toMatch(/desktop window closed/);
  }, 60_000);
});
