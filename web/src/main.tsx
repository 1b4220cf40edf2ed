import "@mantine/core/styles.css";
import "uplot/dist/uPlot.min.css";
import { type CSSVariablesResolver, MantineProvider, Modal, NavLink, createTheme } from "@mantine/core";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";

// System fonts only: nothing is loaded from the internet.
// Shades chosen for WCAG AA contrast (axe-core checks every page).
const theme = createTheme({
  primaryColor: "indigo",
  primaryShade: 8,
  respectReducedMotion: true,
  components: {
    NavLink: NavLink.extend({ defaultProps: { variant: "filled" } }),
    Modal: Modal.extend({ defaultProps: { closeButtonProps: { "aria-label": "Close" } } }),
  },
  fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
});

const contrast: CSSVariablesResolver = () => ({
  variables: {},
  light: { "--mantine-color-dimmed": "var(--mantine-color-gray-7)", "--mantine-color-error": "var(--mantine-color-red-9)" },
  dark: {},
});

const root = document.getElementById("app");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <MantineProvider theme={theme} cssVariablesResolver={contrast}>
        <App />
      </MantineProvider>
    </StrictMode>,
  );
}
