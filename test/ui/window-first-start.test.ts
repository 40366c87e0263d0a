/**
 * The desktop window at a first start under Xvfb, in Russian: no license is
 * activated and the loader's own server accepts only registered calling AE
 * titles. Continue in the license window goes on without a license, and an
 * association that the server rejects gets one notice in the window that
 * names the calling AE title, its address and the fix. Each calling AE title
 * gets its own line, up to three, and a count line for the others.
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
  const noticeText = (id: string) => session.driver.widget(id)?.text ?? '';

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

  test('each rejected caller gets a line', async () => {
    // The hidden notice of UNKNOWN_CALLER returns with its next rejection, still counted.
    await storeFromUnknownCaller();
    await session.driver.waitFor('server-notice', (label) => (label.text ?? '').includes('(раз: 4)'), 10_000, 'count 4');

    // A second calling AE title, which calls a wrong AE title too, adds a line above instead of replacing it.
    await storeFromUnknownCaller('ORTHANC', 'WRONGAE');
    await session.driver.waitFor('server-notice', (label) => (label.text ?? '').includes('«ORTHANC»'), 10_000, 'ORTHANC first');
    await session.driver.waitFor('server-notice-1', (label) => (label.text ?? '').includes(`«${UNKNOWN_CALLER}»`), 10_000, `${UNKNOWN_CALLER} second`);
    expect(noticeText('server-notice-1')).toContain('(раз: 4), последнюю: это имя AE не зарегистрировано');
    expect(session.driver.widget('server-notice-dismiss-1')).toBeDefined();
    expect(session.driver.widget('server-notice-more')).toBeUndefined();

    // At most three lines show, and one more line counts the others.
    await storeFromUnknownCaller('THIRDMOD');
    await storeFromUnknownCaller('FOURTHMOD');
    const more = await session.driver.waitFor('server-notice-more', () => true, 10_000, 'the count line');
    expect(more.text).toBe('Ещё уведомлений такого рода: 1');
    expect(noticeText('server-notice')).toContain('«FOURTHMOD»');
    expect(noticeText('server-notice-1')).toContain('«THIRDMOD»');
    expect(noticeText('server-notice-2')).toContain('«ORTHANC»');
    expect(session.driver.widget('server-notice-3')).toBeUndefined();

    // Hide closes only its own line, and the next older notice moves up. The button moves while new lines are laid
    // out, so the click waits until it keeps its place, because a click on its old place missed it on a loaded machine.
    await session.driver.waitForStill('server-notice-dismiss');
    await session.driver.click('server-notice-dismiss');
    await session.driver.waitForGone('server-notice-more');
    await session.driver.waitFor('server-notice', (label) => (label.text ?? '').includes('«THIRDMOD»'), 10_000, 'THIRDMOD first');
    expect(noticeText('server-notice-1')).toContain('«ORTHANC»');
    expect(noticeText('server-notice-2')).toContain(`«${UNKNOWN_CALLER}»`);

    // Hide all closes the remaining lines, including those beyond the third.
    await storeFromUnknownCaller('FIFTHMOD');
    await session.driver.waitFor('server-notice-dismiss-all', () => true, 10_000, 'Hide all');
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
