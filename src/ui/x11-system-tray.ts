/**
 * Checks whether an X11 system tray host runs, as Qt's
 * QSystemTrayIcon::isSystemTrayAvailable() does on X11: a tray host owns the
 * selection _NET_SYSTEM_TRAY_S<screen> (freedesktop.org System Tray
 * Protocol). NodeGui 0.74 binds no isSystemTrayAvailable(), so this module
 * queries the X server over its Unix socket with two requests,
 * InternAtom and GetSelectionOwner.
 *
 * NOTE: only XEmbed tray hosts on a local X display are found. A
 * StatusNotifierItem host over D-Bus without an XEmbed proxy, a Wayland
 * session and a TCP display (host:0) all count as no tray.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Time allowed for the whole exchange with the X server, in milliseconds. */
const X11_TIMEOUT_MS = 2_000;

/** Xauthority family of a local (Unix socket) display entry, and the wildcard family. */
const FAMILY_LOCAL = 256;
const FAMILY_WILD = 65535;

const OPCODE_INTERN_ATOM = 16;
const OPCODE_GET_SELECTION_OWNER = 23;

export interface X11Display {
  number: number;
  screen: number;
}

/** Parses ":N" or ":N.S" (also "unix:N"); returns undefined for a TCP display or an invalid value. */
export function parseDisplay(value: string | undefined): X11Display | undefined {
  const match = /^(?:unix)?:(\d+)(?:\.(\d+))?$/.exec(value ?? '');
  if (!match) return undefined;
  return { number: Number(match[1]), screen: match[2] === undefined ? 0 : Number(match[2]) };
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

/** Finds the MIT-MAGIC-COOKIE-1 entry of the display in an Xauthority file; none when the file is missing. */
export function readAuthCookie(file: string, displayNumber: number, hostname = os.hostname()): Buffer | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  let offset = 0;
  const readField = (): Buffer => {
    const length = data.readUInt16BE(offset);
    const field = data.subarray(offset + 2, offset + 2 + length);
    offset += 2 + length;
    return field;
  };
  while (offset + 2 <= data.length) {
    const family = data.readUInt16BE(offset);
    offset += 2;
    const address = readField().toString('latin1');
    const number = readField().toString('latin1');
    const name = readField().toString('latin1');
    const cookie = readField();
    const hostMatches = family === FAMILY_WILD || (family === FAMILY_LOCAL && address === hostname);
    if (hostMatches && (number === '' || number === String(displayNumber)) && name === 'MIT-MAGIC-COOKIE-1') return cookie;
  }
  return undefined;
}

function setupRequest(cookie: Buffer | undefined): Buffer {
  const authName = cookie ? Buffer.from('MIT-MAGIC-COOKIE-1', 'latin1') : Buffer.alloc(0);
  const authData = cookie ?? Buffer.alloc(0);
  const header = Buffer.alloc(12);
  header.write('l', 0, 'latin1');
  header.writeUInt16LE(11, 2);
  header.writeUInt16LE(0, 4);
  header.writeUInt16LE(authName.length, 6);
  header.writeUInt16LE(authData.length, 8);
  return Buffer.concat([header, authName, Buffer.alloc(pad4(authName.length)), authData, Buffer.alloc(pad4(authData.length))]);
}

function internAtomRequest(name: string): Buffer {
  const bytes = Buffer.from(name, 'latin1');
  const request = Buffer.alloc(8 + bytes.length + pad4(bytes.length));
  request.writeUInt8(OPCODE_INTERN_ATOM, 0);
  request.writeUInt8(1, 1); // only-if-exists: an atom that no client created means no tray host
  request.writeUInt16LE(request.length / 4, 2);
  request.writeUInt16LE(bytes.length, 4);
  bytes.copy(request, 8);
  return request;
}

function getSelectionOwnerRequest(atom: number): Buffer {
  const request = Buffer.alloc(8);
  request.writeUInt8(OPCODE_GET_SELECTION_OWNER, 0);
  request.writeUInt16LE(2, 2);
  request.writeUInt32LE(atom, 4);
  return request;
}

/**
 * Returns true when a client owns _NET_SYSTEM_TRAY_S<screen> on the display.
 * Resolves false, and never rejects, when the display cannot be reached,
 * rejects the connection or does not reply within X11_TIMEOUT_MS.
 */
export function x11SystemTrayAvailable(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const display = parseDisplay(env.DISPLAY);
  if (display === undefined) return Promise.resolve(false);
  const authFile = env.XAUTHORITY ?? path.join(env.HOME ?? os.homedir(), '.Xauthority');
  const cookie = readAuthCookie(authFile, display.number);

  return new Promise((resolve) => {
    const socket = net.createConnection(`/tmp/.X11-unix/X${display.number}`);
    let received = Buffer.alloc(0);
    let stage: 'setup' | 'atom' | 'owner' = 'setup';
    const finish = (available: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(available);
    };
    const timer = setTimeout(() => finish(false), X11_TIMEOUT_MS);
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write(setupRequest(cookie)));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (stage === 'setup') {
        // The setup reply is 8 bytes plus "additional data" counted in 4-byte units at offset 6.
        if (received.length < 8) return;
        const total = 8 + received.readUInt16LE(6) * 4;
        if (received.length < total) return;
        if (received.readUInt8(0) !== 1) return finish(false);
        received = received.subarray(total);
        stage = 'atom';
        socket.write(internAtomRequest(`_NET_SYSTEM_TRAY_S${display.screen}`));
        return;
      }
      // Replies and errors to these two requests are 32 bytes each; byte 0 is 1 for a reply and 0 for an error.
      if (received.length < 32) return;
      const reply = received.subarray(0, 32);
      received = received.subarray(32);
      if (reply.readUInt8(0) !== 1) return finish(false);
      const value = reply.readUInt32LE(8);
      if (stage === 'atom') {
        if (value === 0) return finish(false);
        stage = 'owner';
        socket.write(getSelectionOwnerRequest(value));
        return;
      }
      finish(value !== 0);
    });
  });
}
