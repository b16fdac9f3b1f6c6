// The parts of CodeMirror 6 the editor page uses, bundled by tools/vendor.sh into
// static/vendor/codemirror/codemirror.min.js as one global, window.PortalCodeMirror.
// static/js/editor.js (plain, unbundled) builds the editor from these.
import {EditorState, EditorSelection} from "@codemirror/state";
import {EditorView, keymap, drawSelection, highlightActiveLine, lineNumbers,
        highlightSpecialChars, placeholder} from "@codemirror/view";
import {defaultKeymap, history, historyKeymap, indentWithTab} from "@codemirror/commands";
import {search, searchKeymap, highlightSelectionMatches} from "@codemirror/search";
import {syntaxHighlighting, HighlightStyle, indentOnInput, bracketMatching} from "@codemirror/language";
import {markdown, markdownLanguage} from "@codemirror/lang-markdown";
import {tags} from "@lezer/highlight";

window.PortalCodeMirror = {
  EditorState, EditorSelection, EditorView, keymap, drawSelection, highlightActiveLine,
  lineNumbers, highlightSpecialChars, placeholder, defaultKeymap, history, historyKeymap,
  indentWithTab, search, searchKeymap, highlightSelectionMatches, syntaxHighlighting,
  HighlightStyle, indentOnInput, bracketMatching, markdown, markdownLanguage, tags
};
