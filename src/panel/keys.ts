/**
 * Keyboard conventions of the panel's text boxes.
 */

/** Ctrl+Enter (Cmd+Enter on a Mac) submits a text box, as in JupyterLab's own. */
export function isSubmitKey(event: {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey?: boolean;
  altKey?: boolean;
}): boolean {
  return (
    event.key === 'Enter' &&
    (event.ctrlKey || event.metaKey) &&
    !event.shiftKey &&
    !event.altKey
  );
}
