import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";
import { SessionProvider, useSession } from "./api/session";
import { Layout } from "./components/Layout";
import { Loading } from "./components/States";
import { ApiKeysPage } from "./pages/ApiKeys";
import { AuditPage } from "./pages/Audit";
import { CloudAccountsPage } from "./pages/CloudAccounts";
import { ClusterPage } from "./pages/Cluster";
import { CreateClusterPage } from "./pages/CreateCluster";
import { EnvironmentPage } from "./pages/Environment";
import { OverviewPage } from "./pages/Overview";
import { ReleasesPage } from "./pages/Releases";
import { RolloutsPage } from "./pages/Rollouts";
import { SignInPage } from "./pages/SignIn";
import { UsersPage } from "./pages/Users";

function Guarded() {
  const { session } = useSession();
  const location = useLocation();
  if (session === undefined) return <Loading what="your session" />;
  if (session === null) {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/sign-in?next=${next}`} replace />;
  }
  return (
    <Layout>
      <Routes>
        <Route path="/" element={<OverviewPage />} />
        <Route path="/environments/:environmentId" element={<EnvironmentPage />} />
        <Route path="/clusters/new" element={<CreateClusterPage />} />
        <Route path="/clusters/:clusterId" element={<ClusterPage />} />
        <Route path="/cloud-accounts" element={<CloudAccountsPage />} />
        <Route path="/rollouts" element={<RolloutsPage />} />
        <Route path="/api-keys" element={<ApiKeysPage />} />
        <Route path="/audit" element={<AuditPage />} />
        <Route path="/releases" element={<ReleasesPage />} />
        <Route path="/users" element={<UsersPage />} />
        <Route path="*" element={<Navigate to="/" replace />} />
      </Routes>
    </Layout>
  );
}

export function App() {
  return (
    <BrowserRouter>
      <SessionProvider>
        <Routes>
          <Route path="/sign-in" element={<SignInPage />} />
          <Route path="/*" element={<Guarded />} />
        </Routes>
      </SessionProvider>
    </BrowserRouter>
  );
}
