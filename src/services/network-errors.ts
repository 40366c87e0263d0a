/**
 * Plain-language explanations of the resolver and socket errors that Node
 * puts in connection failures. The CLI prints them, and services log them
 * where the CLI prints the same message.
 */

/**
 * Replaces the raw resolver and socket errors that Node puts in connection
 * failures ("getaddrinfo ENOTFOUND host") with what they mean for a DICOM node.
 * The host or address match stops before a bracket, semicolon or comma, so an
 * error quoted inside a longer message, as in "(… connect ECONNREFUSED
 * 127.0.0.1:104); counts are not checked", keeps the text after it.
 */
export function explainNetworkErrors(message: string): string {
  return message
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
