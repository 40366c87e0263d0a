/**
 * Rejected-caller notices that registering a location resolves: a calling AE
 * title that was not recognized is accepted at its next association, so its
 * notice goes, while other rejections stay.
 */
import type { AssociationRejection } from '../../src/services/pacs-server/pacs-server';
import { RejectedCallers, withoutRegisteredCaller, type RejectedCallerNotice } from '../../src/ui/controllers/rejected-callers';

function rejection(callingAeTitle: string, reason: number): AssociationRejection {
  return { callingAeTitle, calledAeTitle: 'LOADER', remoteAddress: '127.0.0.1', remotePort: 40000, reason, message: 'rejected' };
}

describe('rejected-caller notices', () => {
  test('registered caller notice dropped', () => {
    const callers = new RejectedCallers(60_000, () => 0);
    const shown: RejectedCallerNotice[] = [];
    callers.subscribe((notice) => shown.unshift(notice));
    callers.rejected(rejection('CT_SCANNER', 3));
    callers.rejected(rejection('MR_SCANNER', 3));
    callers.rejected(rejection('CT_SCANNER2', 7));

    const left = withoutRegisteredCaller(shown, ' CT_SCANNER ');

    expect(left.map((notice) => notice.event.callingAeTitle)).toEqual(['CT_SCANNER2', 'MR_SCANNER']);
    // A called AE title that the server does not recognize is not fixed by registering the caller.
    expect(withoutRegisteredCaller(shown, 'CT_SCANNER2').map((notice) => notice.event.callingAeTitle)).toContain('CT_SCANNER2');
  });
});
