/**
 * Plain-language explanations of the resolver and socket errors that Node
 * puts in connection failures, and of association rejections that a wrong
 * called AE title causes. The CLI prints them, and services log them
 * where the CLI prints the same message.
 */

/**
 * Replaces the raw resolver and socket errors that Node puts in connection
 * failures ("getaddrinfo ENOTFOUND host") with what they mean for a DICOM node,
 * and adds what to check to a rejected called AE title.
 * The host or address match stops before a bracket, semicolon or comma, so an
 * error quoted inside a longer message, as in "(… connect ECONNREFUSED
 * 127.0.0.1:104); counts are not checked", keeps the text after it.
 */
export function explainNetworkErrors(message: string): string {
  return explainCalledAeTitleRejection(message)
    .replace(/getaddrinfo ENOTFOUND ([^\s();,]+)/g, "host $1 not found: check the node's host name or IP address")
    .replace(
      /getaddrinfo EAI_AGAIN ([^\s();,]+)/g,
      'host $1 could not be resolved because the name server did not answer: check the network and DNS settings',
    )
    .replace(
      /connect ECONNREFUSED ([^\s();,]+)/g,
      "connection to $1 refused: nothing listens on that port; check the node's port and that its DICOM service runs",
    );
}

/**
 * Adds what to check to an A-ASSOCIATE-RJ with the reason "called AE title not
 * recognized", as connectToNode words it: "node NAME rejected the association:
 * Association rejected … by service user: called AE title not recognized". A
 * node given by --host, --port and --aec is named AET@HOST:PORT.
 */
function explainCalledAeTitleRejection(message: string): string {
  return message.replace(
    /node (\S+) rejected the association: Association rejected [^:]*: called AE title not recognized/g,
    (rejection: string, name: string) => {
      const adHoc = /^(.*)@[^@]+:\d+$/.exec(name);
      if (adHoc) return `${rejection}: the peer does not answer to the called AE title ${adHoc[1]}; check --aec against the AE title that the peer expects`;
      return (
        `${rejection}: the peer does not answer to the called AE title of node ${name}; compare it ("loader nodes list") with the AE title that the peer expects, ` +
        `and if it differs, remove the node ("loader nodes remove ${name}") and add it again with the right --aet`
      );
    },
  );
}
